"""HTTP plumbing every service shares: errors as JSON, the acting user from the bearer token."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.auth import Actor
from shared.errors import DomainError
from shared.logging import bind_contextvars, clear_contextvars, get_logger
from shared.metrics import security_event
from shared.middlewares import client_address
from shared.resilience import DATABASE_UNAVAILABLE
from shared.store import CommandContext
from shared.tokens import actor_from_token, token_needs_network

VALIDATION_MESSAGES = {
    "missing": "обязательное поле не заполнено",
    "string_too_short": "слишком короткое значение",
    "string_too_long": "слишком длинное значение",
    "string_pattern_mismatch": "недопустимые символы",
    "greater_than_equal": "значение меньше допустимого",
    "less_than_equal": "значение больше допустимого",
    "int_parsing": "нужно целое число",
    "int_type": "нужно целое число (не строка и не логическое значение)",
    "int_from_float": "нужно целое число",
    "bool_type": "нужно логическое значение",
    "string_type": "нужна строка",
    "date_type": "нужна дата в виде ГГГГ-ММ-ДД",
    "uuid_type": "неверный идентификатор",
    "list_type": "нужен список",
    "model_attributes_type": "нужен объект",
    "dict_type": "нужен объект",
    "json_invalid": "неверный JSON",
    "date_from_datetime_parsing": "нужна дата в виде ГГГГ-ММ-ДД",
    "date_parsing": "нужна дата в виде ГГГГ-ММ-ДД",
    "uuid_parsing": "неверный идентификатор",
    "literal_error": "недопустимое значение",
    "extra_forbidden": "лишнее поле",
    "too_long": "слишком много значений",
}


log = get_logger(__name__)

#: Seconds a client is asked to wait after a 503: about what a PostgreSQL restart or fail-over takes.
RETRY_AFTER_SECONDS = 5

HTTP_ERRORS = {
    404: ("NOT_FOUND", "Адрес не найден"),
    405: ("METHOD_NOT_ALLOWED", "Этот метод для адреса не поддерживается"),
}


#: Refusals that are security events (``shared.metrics.security_event``): by status, and by code
#: for those whose status alone does not tell (an unreadable upload is a plain 422 otherwise).
SECURITY_REFUSALS = {403: "access_denied", 413: "upload_refused", 429: "throttled"}
SECURITY_CODES = {"ZIP_BOMB": "upload_refused", "FILE_TOO_LARGE": "upload_refused",
                  "CSRF_FAILED": "csrf_refused"}


def request_address(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return client_address(request.scope)
    return client_address(request.scope, settings.trusted_proxies, settings.signing_secret)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        kind = SECURITY_CODES.get(exc.code) or SECURITY_REFUSALS.get(exc.status)
        if kind:
            security_event(kind, reason=exc.code, address=request_address(request),
                           target=f"{request.method} {request.url.path}")
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Routing errors (unknown path, wrong method) answer in the same {code, message} shape.
        code, message = HTTP_ERRORS.get(exc.status_code, ("HTTP_ERROR", "Запрос не может быть выполнен"))
        return JSONResponse({"code": code, "message": message, "status": exc.status_code},
                            status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_detail(err) for err in exc.errors()]
        body = {"code": "VALIDATION_ERROR",
                "message": "Проверьте данные: " + "; ".join(
                    f"{d['field']}: {d['message']}" for d in details),
                "status": 422, "details": details}
        return JSONResponse(body, status_code=422)

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The transaction was rolled back with the connection, so nothing was half-done: the
        # caller is told to send the same request again, not that the system is broken.
        # Only the class is logged: a driver's message may quote the statement's parameters.
        log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"code": "DATABASE_UNAVAILABLE",
                             "message": "База данных временно недоступна; запрос не выполнен, "
                                        "повторите его через несколько секунд", "status": 503},
                            status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for database_error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(database_error, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug: the caller still gets the {code, message} shape every client reads, in Russian;
        # Starlette re-raises after this answer, so the traceback reaches the server's log.
        return JSONResponse({"code": "INTERNAL_ERROR",
                             "message": "Внутренняя ошибка сервиса; запрос не выполнен, "
                                        "сообщите администратору", "status": 500}, status_code=500)


def _detail(err: dict[str, Any]) -> dict[str, str]:
    """One problem as ``{field, code, message}``.

    A validator of the project (``ValidationProblem``: INVALID_SNILS, IMPLAUSIBLE_DATE, …)
    names its own code and the field it checked; pydantic reports it only as a ``value_error``
    of the model that ran the validator, so both are taken from the problem itself.
    """
    loc = [str(p) for p in err["loc"][1:]]
    problem = err.get("ctx", {}).get("error") if err["type"] == "value_error" else None
    code = getattr(problem, "code", None)
    if isinstance(code, str) and code:
        field = getattr(problem, "field", None)
        if isinstance(field, str) and field and (not loc or loc[-1] != field):
            loc.append(field)
        return {"field": ".".join(loc), "code": code, "message": _russian(err)}
    return {"field": ".".join(loc), "code": err["type"], "message": _russian(err)}


def _russian(err: dict[str, Any]) -> str:
    if err["type"] == "value_error":
        error = err.get("ctx", {}).get("error", err["msg"])
        return str(getattr(error, "message_ru", error))
    return VALIDATION_MESSAGES.get(err["type"], "недопустимое значение")


# Both dependencies are async on purpose: FastAPI runs a sync dependency in a worker thread
# with a copy of the request's context, so what it binds for the logs would be lost with that
# copy. Bound here, on the request's own task, it reaches the route and every log line after.

async def current_actor(request: Request,
                        authorization: Annotated[str | None, Header()] = None) -> Actor:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401)
    token = authorization[7:].strip()
    secret = request.app.state.settings.signing_secret
    try:
        if token_needs_network(token):
            # The regional SSO's keys may have to be fetched: not on the event loop.
            actor = await run_in_threadpool(actor_from_token, token, secret)
        else:
            actor = actor_from_token(token, secret)
    except DomainError as exc:
        security_event("token_refused", reason=exc.code, address=request_address(request),
                       target=f"{request.method} {request.url.path}")
        raise
    clear_contextvars()  # nothing of an earlier request on this task may leak into these logs
    bind_contextvars(actor=actor.user, role=actor.role.value)
    return actor


async def command_context(actor: Annotated[Actor, Depends(current_actor)],
                          x_correlation_id: Annotated[UUID | None, Header()] = None) -> CommandContext:
    ctx = CommandContext(actor, correlation_id=x_correlation_id or uuid4())
    bind_contextvars(actor=actor.user, role=actor.role.value,
                     correlation_id=str(ctx.correlation_id))
    return ctx


CurrentActor = Annotated[Actor, Depends(current_actor)]
Context = Annotated[CommandContext, Depends(command_context)]
