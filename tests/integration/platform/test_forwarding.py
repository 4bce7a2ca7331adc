"""The API's one address passes a service's requests on to the process that runs it apart.

Both sides are real uvicorn servers on loopback, as in ``nastavnik up`` with monitoring apart:
the service behind must see the user (the address its throttle counts, the body, the path and
query as sent), and the user must see the service's answer as if nothing stood between.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.types import ASGIApp

from services.bootstrap import uvicorn_config
from shared.forwarding import ForwardingMiddleware
from shared.middlewares import FORWARDED_BY_HEADER, client_address, forwarding_proof
from shared.nats_server import free_port
from tests.conftest import wait_until

SECRET = "a-secret-of-the-region"
BIG = 3 * 1024 * 1024


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, message="uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def behind() -> FastAPI:
    """Stands for the monitoring service's process."""
    app = FastAPI()

    @app.api_route("/monitoring/echo/{rest:path}", methods=["GET", "POST"])
    async def echo(request: Request, rest: str) -> dict[str, object]:
        body = await request.body()
        return {"user": client_address(request.scope, (), SECRET), "rest": rest,
                "raw_path": request.scope["raw_path"].decode(), "query": str(request.url.query),
                "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "host": request.headers["host"]}

    @app.get("/audit/export")
    def export() -> StreamingResponse:
        return StreamingResponse((bytes([n]) * 65536 for n in range(48)),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"content-disposition": 'attachment; filename="log.csv"'})

    @app.get("/monitoring/teapot")
    def teapot() -> PlainTextResponse:
        return PlainTextResponse("нет", status_code=418)

    return app


def front(monitoring_url: str) -> ASGIApp:
    """Stands for the process holding the API's address: it serves the rest itself."""
    app = FastAPI()

    @app.get("/{rest:path}")
    def here(rest: str) -> dict[str, str]:
        return {"served_by": "front", "path": rest}

    return ForwardingMiddleware(app, {"monitoring": monitoring_url}, secret=SECRET)


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with serving(behind()) as monitoring, serving(front(monitoring)) as api:
        yield api


def test_the_service_behind_gets_the_request_as_the_user_sent_it(address: str) -> None:
    body = bytes(range(256)) * (BIG // 256)
    answer = httpx.post(f"{address}/monitoring/echo/%D0%BE%D1%82%D1%87%D1%91%D1%82%2Fa?x=1&y=%20",
                        content=body, headers={"x-forwarded-for": "203.0.113.9"})
    assert answer.status_code == 200
    seen = answer.json()
    assert seen["size"] == BIG and seen["sha256"] == hashlib.sha256(body).hexdigest()
    # The path as sent, percent-encoding kept (an escaped slash stays one segment).
    assert seen["raw_path"] == "/monitoring/echo/%D0%BE%D1%82%D1%87%D1%91%D1%82%2Fa"
    assert seen["query"] == "x=1&y=%20"
    # A user's own X-Forwarded-For proves nothing: the service behind counts the real peer.
    assert seen["user"] == "127.0.0.1"
    assert seen["host"].startswith("127.0.0.1:") and seen["host"] != address.removeprefix("http://")


def test_a_request_the_portal_forwarded_keeps_the_users_address(address: str) -> None:
    proof = {FORWARDED_BY_HEADER: forwarding_proof(SECRET), "x-forwarded-for": "198.51.100.7"}
    assert httpx.get(f"{address}/monitoring/echo/x", headers=proof).json()["user"] == "198.51.100.7"
    forged = {FORWARDED_BY_HEADER: "0" * 64, "x-forwarded-for": "198.51.100.7"}
    assert httpx.get(f"{address}/monitoring/echo/x", headers=forged).json()["user"] == "127.0.0.1"


def test_the_users_get_the_answer_as_the_service_gave_it(address: str) -> None:
    with httpx.stream("GET", f"{address}/audit/export") as answer:
        chunks = b"".join(answer.iter_raw())
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == 'attachment; filename="log.csv"'
        assert len(answer.headers.get_list("date")) == 1
        assert len(answer.headers.get_list("server")) <= 1
    assert chunks == b"".join(bytes([n]) * 65536 for n in range(48))
    teapot = httpx.get(f"{address}/monitoring/teapot")
    assert (teapot.status_code, teapot.text) == (418, "нет")


def test_only_the_services_own_segments_go_behind(address: str) -> None:
    for path in ("/monitoringx", "/auditor", "/", "/registry/people"):
        assert httpx.get(f"{address}{path}").json()["served_by"] == "front", path


def test_a_service_that_is_down_is_a_503_with_a_russian_message() -> None:
    with serving(front(f"http://127.0.0.1:{free_port()}")) as api:
        answer = httpx.get(f"{api}/monitoring/dashboard")
    assert answer.status_code == 503
    assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "недоступен" in answer.json()["message"]
