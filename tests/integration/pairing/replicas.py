"""A replica of the registry and the pairing service in a process of its own: their HTTP routes,
error answers and service layers over the shared store, without the bus (the test's host
publishes and feeds the pools). Started by the race test with ``multiprocessing`` (spawn)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.pairing.api import router as pairing_router
from services.pairing.application import PairingService
from services.registry.api import router as registry_router
from services.registry.application import RegistryService
from shared.settings import Settings
from shared.store import schema_setup_lock
from shared.web import install_error_handlers

#: One attempt: (what, which, url, body, bearer token); its answer: (what, which, status, body).
Attempt = tuple[str, str, str, dict[str, Any], str]


def replica_app(settings: Settings) -> tuple[FastAPI, list[Any]]:
    app = FastAPI()
    app.state.settings = settings
    with schema_setup_lock(settings):  # as a host starts its services: one replica at a time
        services: list[Any] = [RegistryService(settings), PairingService(settings)]
    app.state.registry, app.state.pairing = services
    install_error_handlers(app)
    app.include_router(registry_router)
    app.include_router(pairing_router)
    return app, services


def run_replica(settings: Settings, orders: Queue, start: Barrier, answers: Queue,
                clients: int = 4) -> None:
    """Start, take the attempts, wait for the other replicas, then send every attempt,
    ``clients`` at a time."""
    services: list[Any] = []
    try:
        app, services = replica_app(settings)
        attempts: list[Attempt] = orders.get(timeout=240)
        start.wait(timeout=120)

        def send(attempt: Attempt) -> tuple[str, str, int, dict[str, Any]]:
            what, which, url, body, token = attempt
            response = TestClient(app, raise_server_exceptions=False).post(
                url, json=body, headers={"Authorization": f"Bearer {token}"})
            return what, which, response.status_code, response.json()

        with ThreadPoolExecutor(clients) as pool:
            answers.put(list(pool.map(send, attempts)))
    except BaseException as exc:
        answers.put(repr(exc))
        raise
    finally:
        for service in services:
            service.close()
