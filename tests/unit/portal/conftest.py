"""The portal's pages in-process, against a fake of the services' HTTP APIs (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.portal.auth import COOKIE
from services.portal.frame import Portal
from services.portal.routes import router
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.settings import Settings

SECRET = "portal-unit-test-secret-of-at-least-32-bytes"
Answer = Callable[[httpx.Request], httpx.Response] | tuple[int, Any]


@dataclass
class FakeApi:
    """Answers by method and path; records every request the portal makes."""

    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        self.answers[(method, path)] = (status, body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"code": "NOT_FOUND", "message": "Не найдено"})
        if callable(answer):
            return answer(request)
        status, body = answer
        return httpx.Response(status, json=body)

    def sent(self, method: str, path: str) -> list[Any]:
        return [json.loads(c.content) if c.content else None for c in self.calls
                if c.method == method and c.url.path == path]


def portal_app(api: FakeApi, settings: Settings) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.portal = Portal(settings, httpx.AsyncClient(transport=httpx.MockTransport(api.handle),
                                                          base_url="http://api.test"))
    return app


@dataclass
class PortalUnderTest:
    api: FakeApi
    app: FastAPI

    def client(self, role: Role | None = Role.CURATOR, scope: str = "demo/m1/school-1",
               **kwargs: Any) -> TestClient:
        client = TestClient(self.app, base_url="http://portal.test", follow_redirects=False, **kwargs)
        if role is not None:
            token = issue_token(Actor(user="unit", role=role, scope=OrgPath.parse(scope)), SECRET)
            client.cookies.set(COOKIE, token)
        return client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(token_secret=SECRET, data_dir=tmp_path)


@pytest.fixture
def portal(settings: Settings) -> Iterator[PortalUnderTest]:
    api = FakeApi()
    yield PortalUnderTest(api, portal_app(api, settings))
