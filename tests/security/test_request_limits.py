"""Limits every request meets before a route: the body size, and the per-caller request budget."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.registry.throttling import SlidingWindow
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.middlewares import InputGuardMiddleware, RateLimitMiddleware, RequestBudget
from shared.settings import Settings
from shared.uploads import MAX_UPLOAD_BYTES
from tests.conftest import TEST_SECRET


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- body size ---------------------------------------------------------------------------------

def run_asgi(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, Any, int]:
    """One request with a body sent in chunks (no Content-Length: chunked transfer)."""
    sent: list[MutableMapping[str, Any]] = []
    delivered = 0
    pending = list(chunks)

    async def receive() -> MutableMapping[str, Any]:
        nonlocal delivered
        if not pending:
            await asyncio.sleep(3600)
        chunk = pending.pop(0)
        delivered += 1
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/upload", "query_string": b"",
             "headers": headers, "client": ("10.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], orjson.loads(body), delivered


def reading_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RuntimeError("the client went away")  # what a parser would do
            if not message.get("more_body"):
                break
        payload = orjson.dumps({"code": "OK", "message": "принято"})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": payload})

    return app


def test_a_chunked_upload_is_cut_off_at_the_limit() -> None:
    guard = InputGuardMiddleware(reading_app(), max_body_bytes=1024)
    multipart = [(b"content-type", b"multipart/form-data; boundary=x")]
    chunk = b"x" * (1024 * 1024)
    status, body, delivered = run_asgi(guard, multipart, [chunk] * 40)  # 40 MB, never declared
    assert (status, body["code"]) == (413, "FILE_TOO_LARGE")
    assert delivered <= MAX_UPLOAD_BYTES // len(chunk) + 2  # stopped reading at the limit
    status, body, _ = run_asgi(guard, multipart, [chunk] * 3)
    assert (status, body["code"]) == (200, "OK")
    # JSON is read whole by the guard (for the NUL check): cut off at its own, smaller limit.
    status, body, delivered = run_asgi(guard, [(b"content-type", b"application/json")],
                                       [b"[" + b"1," * 300] * 10)
    assert (status, body["code"], delivered) == (413, "REQUEST_TOO_LARGE", 2)


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    app = FastAPI()

    @app.post("/echo")
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app.add_middleware(InputGuardMiddleware, max_body_bytes=100)
    client = TestClient(app)
    assert client.post("/echo", json={"a": "b"}).status_code == 200
    refused = client.post("/echo", json={"a": "b" * 200})
    assert refused.status_code == 413 and refused.json()["code"] == "REQUEST_TOO_LARGE"
    assert "Запрос слишком большой" in refused.json()["message"]
    form = client.post("/echo", data={"a": "b" * 200})
    assert form.status_code == 413
    # The NUL check still holds.
    assert client.post("/echo", json={"a": "b\u0000"}).json()["code"] == "INVALID_CHARACTERS"


# --- request budget ------------------------------------------------------------------------------

def limited_app(settings: Settings | None, per_minute: int = 5) -> FastAPI:
    app = FastAPI()
    if settings is not None:
        app.state.settings = settings

    @app.get("/x")
    def x() -> dict[str, str]:
        return {}

    app.add_middleware(RateLimitMiddleware, per_minute=per_minute)
    return app


def bearer(user: str) -> dict[str, str]:
    token = issue_token(Actor(user=user, role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1")),
                        TEST_SECRET)
    return {"Authorization": f"Bearer {token}"}


def test_an_invented_bearer_per_request_buys_no_fresh_budget(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path, token_secret=TEST_SECRET)
    client = TestClient(limited_app(settings))
    codes = [client.get("/x", headers={"Authorization": f"Bearer {uuid.uuid4()}"}).status_code
             for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    # Verified users behind that same address each have a budget of their own…
    for user in ("ivanova", "petrov"):
        assert [client.get("/x", headers=bearer(user)).status_code for _ in range(6)] == \
            [200] * 5 + [429]
    # …shared by every token of one user.
    assert client.get("/x", headers=bearer("ivanova")).status_code == 429


def test_without_settings_every_caller_counts_by_address() -> None:
    client = TestClient(limited_app(None))
    codes = [client.get("/x", headers=bearer(f"user-{i}")).status_code for i in range(7)]
    assert codes == [200] * 5 + [429] * 2


def test_request_budget_allows_the_limit_then_one_per_interval() -> None:
    clock = Clock()
    budget = RequestBudget(5, 60.0, clock)
    assert [budget.hit("a") for _ in range(5)] == [0.0] * 5
    assert budget.hit("a") == 12.0  # the next one comes free in window / limit
    clock.now += 12
    assert budget.hit("a") == 0.0 and budget.hit("a") > 0
    clock.now += 60
    assert [budget.hit("a") for _ in range(5)] == [0.0] * 5


def test_throttles_keep_bounded_memory_without_scanning_every_key() -> None:
    for make in (lambda c: RequestBudget(5, 60.0, c, max_keys=1000),
                 lambda c: SlidingWindow(5, 60.0, c, max_keys=1000)):
        clock = Clock()
        throttle = make(clock)
        for i in range(5000):  # a flood of distinct keys within one window
            assert throttle.hit(f"k{i}") == 0.0
        assert len(throttle) <= 1000
        clock.now += 61  # every key's window has passed: they fade as later hits come
        for i in range(10):
            throttle.hit(f"late{i}")
        assert len(throttle) <= 11
        # Hits stay cheap at the bound: no rebuild of the whole map per request.
        for i in range(1000):
            throttle.hit(f"again{i}")
        started = time.perf_counter()
        for i in range(20_000):
            throttle.hit(f"more{i}")
        assert time.perf_counter() - started < 2.0
        assert len(throttle) <= 1000
        # A key that is still limited is not forgotten while the map is within its bound.
        clock.now += 61
        for _ in range(5):
            throttle.hit("busy")
        assert throttle.hit("busy") > 0
