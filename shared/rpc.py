"""Request/reply between services over NATS: one ``serve``, one ``request``, one error policy.

A query that needs another service's current answer (names for a document, the pairs an order
approves, a unit's figures) is a NATS request on a route of ``shared.contracts``. Both sides
speak JSON objects:

- the request carries the acting user as claims signed by the calling service
  (``shared.claims``: short-lived, addressed to the answering service, never the user's token);
  the server refuses a request whose claims are missing, forged, expired, addressed elsewhere,
  replayed or from a service the route does not list, with 403 and a security log event;
- a reply is the handler's object, or ``{"error": {"code", "message", "status"}}``, encrypted to
  the requesting service and signed by the answering one (``shared.sealed``); only a refusal
  made before the requester is known (a malformed request, claims that do not verify) travels
  as plain JSON, and it names nobody;
- the server answers a malformed request with ``INVALID_REQUEST`` (422), a rule the handler
  refuses with that ``DomainError``, and anything unexpected with ``INTERNAL_ERROR`` (500) — the
  requester always gets an answer, never a timeout for a bug;
- the requester turns an error reply back into the same ``DomainError``, and no responder, no
  answer in time or a reply that does not open into ``<SERVICE>_UNAVAILABLE`` (503,
  «повторите позже»).

Handlers are plain functions of the verified actor and the request, run in a worker thread:
they read stores.
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

from shared import claims, sealed, signing
from shared.auth import Actor
from shared.contracts import RpcRoute
from shared.errors import DomainError
from shared.logging import get_logger
from shared.metrics import security_event
from shared.signing import Keyring

log = get_logger(__name__)

#: One request: the user it speaks for (verified claims) and its fields.
Handler = Callable[[Actor, dict[str, Any]], dict[str, Any]]
DEFAULT_TIMEOUT = 10.0

#: Who answers, in the words a user reads when they do not.
SERVICE_NAMES = {"registry": "Реестр участников", "pairing": "Сервис пар",
                 "monitoring": "Сервис мониторинга", "documents": "Сервис документов"}


def for_caller(field: str, call: Callable[[Actor, Any], dict[str, Any]]) -> Handler:
    """A route that answers for the asking user: the verified actor and one field of the
    request (``field``), translated into one call on the service."""

    def handle(actor: Actor, request: dict[str, Any]) -> dict[str, Any]:
        return call(actor, request.get(field))

    return handle


def error_reply(exc: DomainError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "status": exc.status,
                      **({"details": exc.details} if exc.details else {})}}


def _reply(handler: Handler, actor: Actor, request: dict[str, Any], subject: str) -> dict[str, Any]:
    try:
        return handler(actor, request)
    except DomainError as exc:
        return error_reply(exc)
    except Exception as exc:  # noqa: BLE001 - the requester must get an answer, not a timeout
        log.error("rpc.handler_failed", subject=subject, error=repr(exc))
        return error_reply(DomainError("INTERNAL_ERROR", "Внутренняя ошибка сервиса", 500))


def answer(route: RpcRoute, handler: Handler, data: bytes, keyring: Keyring | None = None) -> bytes:
    """The reply to one request's bytes (blocking: the handler reads stores): sealed to the
    requesting service once its claims verify, a plain refusal before."""
    keys = keyring or signing.current()
    try:
        request = orjson.loads(data or b"{}")
        if not isinstance(request, dict):
            raise ValueError("not an object")
    except ValueError:
        return orjson.dumps(error_reply(DomainError("INVALID_REQUEST", "Неверный запрос", 422)))
    try:
        caller = claims.verify(keys, route, request)
    except DomainError as exc:
        return orjson.dumps(error_reply(exc))
    reply = _reply(handler, caller.actor, request, route.subject)
    try:
        return sealed.seal(keys, route.service, caller.service, orjson.dumps(reply),
                           sealed.context_of(route.subject, caller.jti))
    except LookupError as exc:  # keys missing on this host: a deployment error, said plainly
        log.error("rpc.reply_not_sealed", subject=route.subject, error=str(exc))
        return orjson.dumps(error_reply(DomainError("INTERNAL_ERROR", "Внутренняя ошибка сервиса", 500)))


async def serve(nc: Client, route: RpcRoute, handler: Handler,
                keyring: Keyring | None = None) -> Subscription:
    """Answer requests on ``route`` (one member of its queue per request) until the connection
    drains."""

    async def handle(message: Msg) -> None:
        reply = await asyncio.to_thread(answer, route, handler, message.data, keyring)
        await message.respond(reply)

    return await nc.subscribe(route.subject, queue=route.queue, cb=handle)


def unavailable(service: str) -> DomainError:
    name = SERVICE_NAMES.get(service, "Сервис")
    return DomainError(f"{service.upper()}_UNAVAILABLE", f"{name} недоступен, повторите позже", 503)


async def request(nc: Client | None, route: RpcRoute, body: dict[str, Any], actor: Actor,
                  caller: str, timeout: float = DEFAULT_TIMEOUT,
                  keyring: Keyring | None = None) -> dict[str, Any]:
    """The reply of ``route.service`` to ``caller`` asking for ``actor``, or the ``DomainError``
    it answered with."""
    service = route.service
    if nc is None or not nc.is_connected:
        raise unavailable(service)
    keys = keyring or signing.current()
    asserted = claims.mint(keys, caller, service, actor)
    jti = asserted[claims.CLAIMS_FIELD]["jti"]
    try:
        message = await nc.request(route.subject, orjson.dumps({**body, **asserted}), timeout=timeout)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
        raise unavailable(service) from exc
    data = message.data
    if sealed.is_sealed(data):
        try:
            data = sealed.open_sealed(keys, service, caller, data, sealed.context_of(route.subject, jti))
        except sealed.SealError as exc:
            security_event("rpc_reply_refused", reason=str(exc)[:40], actor=caller, target=route.subject)
            raise unavailable(service) from exc
    try:
        reply = orjson.loads(data)
    except ValueError as exc:
        raise unavailable(service) from exc
    if not isinstance(reply, dict):
        raise unavailable(service)
    if "error" in reply:
        error = reply["error"]
        raise DomainError(str(error["code"]), str(error["message"]), int(error["status"]),
                          details=list(error.get("details") or []))
    if data is message.data:  # an answer, not a refusal, must come sealed: this one may be forged
        security_event("rpc_reply_refused", reason="unsealed", actor=caller, target=route.subject)
        raise unavailable(service)
    return reply
