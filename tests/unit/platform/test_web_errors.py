"""What a client reads when a request fails for a reason other than its own data."""

from __future__ import annotations

import eventsourcing.persistence as es
import psycopg_pool
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from shared.errors import DomainError
from shared.web import install_error_handlers

SNILS = "112-233-445 95"
LOST = {
    "read model (SQLAlchemy)": sa.exc.OperationalError(
        "SELECT * FROM people WHERE snils = %s", (SNILS,),
        Exception("server closed the connection unexpectedly")),
    "event store (eventsourcing)": es.OperationalError("terminating connection due to administrator command"),
    "connection pool exhausted": psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"),
}


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/people")
    async def register() -> dict[str, str]:
        raise error

    return app


@pytest.mark.parametrize("error", LOST.values(), ids=LOST.keys())
def test_a_lost_database_asks_the_caller_to_retry_in_russian(error: Exception) -> None:
    with capture_logs() as logs, TestClient(app_raising(error)) as client:
        response = client.post("/people")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json()["code"] == "DATABASE_UNAVAILABLE"
    assert "повторите" in response.json()["message"]
    # Neither the answer nor the log may quote the statement's parameters: they can be personal.
    assert SNILS not in response.text
    assert logs and SNILS not in repr(logs)


def test_a_bug_still_answers_code_and_russian_message() -> None:
    with TestClient(app_raising(KeyError("mentor_id")), raise_server_exceptions=False) as client:
        response = client.post("/people")
    assert response.status_code == 500
    assert response.json() == {"code": "INTERNAL_ERROR",
                               "message": "Внутренняя ошибка сервиса; запрос не выполнен, "
                                          "сообщите администратору", "status": 500}
    assert "mentor_id" not in response.text


def test_a_domain_error_keeps_its_own_status_and_code() -> None:
    refusal = DomainError("PAIR_CLOSED", "Пара уже завершена", 409)
    with TestClient(app_raising(refusal)) as client:
        response = client.post("/people")
    assert response.status_code == 409
    assert response.json()["code"] == "PAIR_CLOSED"
