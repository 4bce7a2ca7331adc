"""The portal's only way to the services: their public HTTP APIs, with the signed-in user's token.

Every call carries the user's own token, so each service decides what that user may see; the
portal never widens anyone's view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.portal.fields import FIELD_TITLES


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class ApiClient:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, url, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(503, "SERVICE_UNAVAILABLE", "Сервис временно недоступен, "
                           "повторите попытку позже") from exc
        if response.status_code >= 400:
            raise error_of(response)
        return response

    async def get(self, url: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return (await self.request("GET", url, params=clean)).json()

    async def post(self, url: str, **kwargs: Any) -> Any:
        response = await self.request("POST", url, **kwargs)
        return response.json() if response.content else None

    async def put(self, url: str, **kwargs: Any) -> Any:
        response = await self.request("PUT", url, **kwargs)
        return response.json() if response.content else None

    async def get_list_in_chunks(self, url: str, name: str, values: Sequence[str],
                                 chunk: int = 100, **params: Any) -> list[Any]:
        """A list answer for many values of one repeated query parameter, asked in chunks so
        the address stays short, concurrently, and joined in the order asked."""
        if not values:
            return []
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        parts = await asyncio.gather(*(
            self.request("GET", url, params={**clean, name: list(values[i:i + chunk])})
            for i in range(0, len(values), chunk)))
        return [item for part in parts for item in part.json()]


def error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code, details = str(body.get("code", "ERROR")), list(body.get("details") or [])
    message = str(body.get("message", "Ошибка сервиса"))
    if code == "VALIDATION_ERROR":
        message = validation_message(details) or message
    return ApiError(response.status_code, code, message, details)


def validation_message(details: list[Any]) -> str:
    """A service's «Проверьте данные: satisfaction: …» with each field named as the form names
    it («Удовлетворённость (1–10): …»); a field the forms do not have is left unnamed rather
    than shown by its parameter's name."""
    parts = []
    for detail in details:
        if not isinstance(detail, dict) or "message" not in detail:
            continue
        names = reversed(str(detail.get("field", "")).split("."))
        title = next((FIELD_TITLES[name] for name in names if name in FIELD_TITLES), None)
        parts.append(f"{title}: {detail['message']}" if title else str(detail["message"]))
    return "Проверьте данные: " + "; ".join(parts) if parts else ""
