"""The API's one address in front of services that run in processes of their own.

``nastavnik up`` on a machine with several cores runs some services apart (``bootstrap``); the
process holding the API's address passes each request whose first path segment belongs to
such a service on to it, as the region's gateway (``deploy/kubernetes/gateway.conf``) passes
it to the service's pods, and serves the rest itself.

The process behind sees the user's address, not ours: it comes in X-Forwarded-For with the
portal's proof (``shared.middlewares.FORWARDED_BY_HEADER``), so its throttle and its log name
the user. Bodies flow through in both directions as they come, never whole in memory; the
service behind applies its own limits, guards and headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, MutableMapping
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.contracts import API_PREFIXES
from shared.logging import get_logger
from shared.middlewares import (
    FORWARDED_BY_HEADER,
    client_address,
    error_messages,
    forwarding_proof,
)

__all__ = ["ForwardingMiddleware", "first_segment"]

log = get_logger(__name__)

#: Headers about one hop, not the request: never passed on (RFC 9110, 7.6.1; ``Expect`` was
#: answered by this hop's server already), and the ones this hop writes itself.
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailer", b"transfer-encoding", b"upgrade", b"expect", b"host", b"x-forwarded-for",
    FORWARDED_BY_HEADER.encode(),
})
#: Written by this hop's own server, so not copied from the answer behind.
OWN_HEADERS = HOP_BY_HOP | {b"date", b"server"}
#: A service behind may take long for a large export; one that does not answer at all is down.
TIMEOUT = httpx.Timeout(300.0, connect=5.0)


def first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") and len(path) > 1 else ""


class ForwardingMiddleware:
    """Passes the requests of the services in ``elsewhere`` (service name → base URL) on."""

    def __init__(self, app: ASGIApp, elsewhere: Mapping[str, str], *, secret: str,
                 trusted_proxies: tuple[str, ...] = ()) -> None:
        self.app = app
        self.targets = {prefix: url.rstrip("/") for service, url in elsewhere.items()
                        for prefix in API_PREFIXES[service]}
        self.secret = secret
        self.trusted_proxies = trusted_proxies
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        target = self.targets.get(first_segment(scope["path"])) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        await self._forward(target, scope, receive, send)

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"].startswith("lifespan.shutdown") and self._client is not None:
                await self._client.aclose()
                self._client = None
            await send(message)
        return sending

    async def _forward(self, target: str, scope: Scope, receive: Receive, send: Send) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT, limits=httpx.Limits(
                max_connections=64, max_keepalive_connections=64))
        headers = [(name, value) for name, value in scope["headers"]
                   if name.lower() not in HOP_BY_HOP]
        address = client_address(scope, self.trusted_proxies, self.secret)
        headers += [(b"x-forwarded-for", address.encode("latin-1")),
                    (FORWARDED_BY_HEADER.encode(), forwarding_proof(self.secret).encode())]
        has_body = any(name in (b"content-length", b"transfer-encoding")
                       for name, _ in scope["headers"])
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        url = target + path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        request = self._client.build_request(
            scope["method"], url, headers=headers, content=_body(receive) if has_body else None)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            log.error("forwarding.unreachable", target=target, error=repr(exc))
            await _unavailable(send)
            return
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(name, value) for name, value in response.headers.raw
                                    if name.lower() not in OWN_HEADERS]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise httpx.ReadError("the client went away")  # ends the request behind as well
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _unavailable(send: Send) -> None:
    for message in error_messages(503, "SERVICE_UNAVAILABLE",
                                  "Сервис временно недоступен: повторите через минуту"):
        await send(message)
