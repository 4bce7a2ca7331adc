"""The OpenAPI document lists every status a route can answer, once for all routes.

Routes declare only their success; the errors come from the platform and are the same shape
everywhere (``{code, message, status}``, ``shared.web``). Which of them a route can give follows
from what it is: any route may be refused a malformed request (400/422), be throttled (429,
``RateLimitMiddleware``) or meet an unavailable database (503); one that needs a bearer may
answer 401/403; one that names a record by path, or acts on records, may answer 404/409; one
with a body may be refused for its size (413, ``InputGuardMiddleware``).

Free text is stated as the API takes it: ``InputGuardMiddleware`` refuses a NUL anywhere in a
path, a query or a JSON or form body, so every string without a format, a pattern or a list of
values says so, and so does every object's free keys (stripped bodies say more,
``shared.inputs``). That is said of requests only; a multipart upload is the file's own
business: its fields stay as they are.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.inputs import NUL_FREE
from shared.middlewares import EXEMPT_FROM_RATE_LIMIT

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Ошибка: машинный код, сообщение по-русски, HTTP-статус",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "title": "Code"},
        "message": {"type": "string", "title": "Message"},
        "status": {"type": "integer", "title": "Status"},
        "details": {"type": "array", "title": "Details",
                    "items": {"type": "object", "additionalProperties": True}},
    },
}

DESCRIPTIONS = {
    400: "Запрос не может быть выполнен",
    401: "Требуется вход в систему",
    403: "Недостаточно прав",
    404: "Запись не найдена или не видна в вашей области",
    409: "Конфликт с текущим состоянием",
    413: "Запрос или файл слишком большой",
    422: "Проверьте данные",
    429: "Слишком много запросов",
    503: "Сервис временно недоступен; повторите позже",
}


def _needs_actor(operation: dict[str, Any]) -> bool:
    """``shared.web.current_actor`` reads the Authorization header: the operation lists it."""
    return any(p.get("in") == "header" and p.get("name", "").lower() == "authorization"
               for p in operation.get("parameters", []))


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, from its shape (see the module's docstring)."""
    statuses = {400, 422, 503}
    authenticated = _needs_actor(operation)
    if authenticated:
        statuses |= {401, 403}
    if "{" in path or authenticated:
        statuses.add(404)
    if authenticated and method != "get":
        statuses.add(409)
    if "requestBody" in operation:
        statuses.add(413)
    if not path.startswith(EXEMPT_FROM_RATE_LIMIT):
        statuses.add(429)
    return sorted(statuses)


def _not_null(schema: dict[str, Any]) -> None:
    """A header is text or absent, never JSON ``null``: an optional header's ``anyOf [X, null]``
    (pydantic's ``X | None``) is X, its absence the parameter not being required."""
    options = schema.get("anyOf")
    if options and any(o.get("type") == "null" for o in options):
        rest = [o for o in options if o.get("type") != "null"]
        del schema["anyOf"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest


def _refuse_nul(node: Any) -> None:
    """Every free string under ``node`` (not a header's) gets the NUL-free pattern."""
    if isinstance(node, list):
        for item in node:
            _refuse_nul(item)
        return
    if not isinstance(node, dict) or node.get("in") == "header":
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const",
                                              "contentMediaType"} & node.keys():
        node["pattern"] = NUL_FREE
    if node.get("type") == "object" and node.get("additionalProperties", True) is not False \
            and "propertyNames" not in node:
        node["propertyNames"] = {"pattern": NUL_FREE}  # a key is text of the body too
    for value in list(node.values()):
        _refuse_nul(value)


def _refs(node: Any) -> set[str]:
    """The components ``node`` names directly."""
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
    return found.union(*map(_refs, node.values()))


def _state_refused_characters(schema: dict[str, Any]) -> None:
    """What a request may carry (its parameters and JSON or form body, and every component
    they reach); a response is not the middleware's business, nor is a multipart upload."""
    components = schema.get("components", {}).get("schemas", {})
    requests: list[Any] = []
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            requests.append(operation.get("parameters", []))
            requests += [body.get("schema") for media, body in
                         operation.get("requestBody", {}).get("content", {}).items()
                         if not media.startswith("multipart/")]
    reached: set[str] = set()
    pending = _refs(requests)
    while pending:
        name = pending.pop()
        if name not in reached and name in components:
            reached.add(name)
            pending |= _refs(components[name])
    for name in reached:
        _refuse_nul(components[name])
    _refuse_nul(requests)


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` list each route's error statuses with the one error schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description=app.description)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        # FastAPI's own validation-error shape is not what shared.web answers.
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in error_statuses(path, method, operation):
                    responses[str(status)] = {"description": DESCRIPTIONS[status], "content": error}
                # A route's own refusals (declared by status only) answer the same shape.
                for status, response in responses.items():
                    if status[0] in "45" and "content" not in response:
                        response["content"] = error
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "header":
                        _not_null(parameter.get("schema", {}))
        _state_refused_characters(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
