"""Request/reply between services over NATS: one ``serve``, one ``request``, one error policy.

A query that needs another service's current answer (names for a document, the pairs an order
approves, a unit's figures) is a NATS request. Both sides speak JSON objects:

- a reply is the handler's object, or ``{"error": {"code", "message", "status"}}``;
- the server answers a malformed request with ``INVALID_REQUEST`` (422), a rule the handler
  refuses with that ``DomainError``, and anything unexpected with ``INTERNAL_ERROR`` (500) — the
  requester always gets an answer, never a timeout for a bug;
- the requester turns an error reply back into the same ``DomainError``, and no responder or no
  answer in time into ``<SERVICE>_UNAVAILABLE`` (503, «повторите позже»).

Handlers are plain functions run in a worker thread: they read stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.auth import Actor
from shared.errors import DomainError
from shared.logging import get_logger
from shared.settings import Settings
from shared.tokens import actor_from_token

log = get_logger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
DEFAULT_TIMEOUT = 10.0

#: Who answers, in the words a user reads when they do not.
SERVICE_NAMES = {"registry": "Реестр участников", "pairing": "Сервис пар",
                 "monitoring": "Сервис мониторинга", "documents": "Сервис документов"}


def caller(request: dict[str, Any], settings: Settings) -> Actor:
    """The user a request speaks for: the token it forwards, checked as the HTTP side checks it."""
    return actor_from_token(str(request.get("token", "")), settings.signing_secret)


def for_caller(settings: Settings, field: str, call: Callable[[Actor, Any], dict[str, Any]]
               ) -> Handler:
    """A route that answers for the forwarding user: their token and one field of the request
    (``field``), translated into one call on the service."""

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        return call(caller(request, settings), request.get(field))

    return handle


def error_reply(exc: DomainError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "status": exc.status,
                      **({"details": exc.details} if exc.details else {})}}


def answer(handler: Handler, data: bytes, subject: str = "") -> dict[str, Any]:
    """The reply to one request's bytes (blocking: the handler reads stores)."""
    try:
        request = orjson.loads(data or b"{}")
        if not isinstance(request, dict):
            raise ValueError("not an object")
    except ValueError:
        return error_reply(DomainError("INVALID_REQUEST", "Неверный запрос", 422))
    try:
        return handler(request)
    except DomainError as exc:
        return error_reply(exc)
    except Exception as exc:  # noqa: BLE001 - the requester must get an answer, not a timeout
        log.error("rpc.handler_failed", subject=subject, error=repr(exc))
        return error_reply(DomainError("INTERNAL_ERROR", "Внутренняя ошибка сервиса", 500))


async def serve(nc: Client, subject: str, queue: str, handler: Handler) -> Subscription:
    """Answer requests on ``subject`` (one member of ``queue`` per request) until the connection
    drains."""

    async def handle(message: Msg) -> None:
        reply = await asyncio.to_thread(answer, handler, message.data, subject)
        await message.respond(orjson.dumps(reply))

    return await nc.subscribe(subject, queue=queue, cb=handle)


def unavailable(service: str) -> DomainError:
    name = SERVICE_NAMES.get(service, "Сервис")
    return DomainError(f"{service.upper()}_UNAVAILABLE", f"{name} недоступен, повторите позже", 503)


async def request(nc: Client | None, service: str, subject: str, body: dict[str, Any],
                  timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The reply of ``service`` on ``subject``, or the ``DomainError`` it answered with."""
    if nc is None or not nc.is_connected:
        raise unavailable(service)
    try:
        message = await nc.request(subject, orjson.dumps(body), timeout=timeout)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
        raise unavailable(service) from exc
    try:
        reply = orjson.loads(message.data)
    except ValueError as exc:
        raise unavailable(service) from exc
    if not isinstance(reply, dict):
        raise unavailable(service)
    if "error" in reply:
        error = reply["error"]
        raise DomainError(str(error["code"]), str(error["message"]), int(error["status"]),
                          details=list(error.get("details") or []))
    return reply
