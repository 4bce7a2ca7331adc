"""The portal's web frame: what every page shares.

- ``PortalRoute`` wraps every page: the CSRF check of each form, the sign-in page for a missing
  session, and Russian error pages (or an htmx alert) for a service's refusal or an invalid form;
- ``Signed`` (the signed-in user and an API client carrying their token) and ``State`` (the
  portal's settings and HTTP client) are what a page asks for;
- ``render`` / ``see_other`` answer with a template or a redirect (htmx-aware);
- ``FIELD_TITLES`` names every form field in Russian for the validation error page;
- the header names the user's organisation or territory (``scope_title``), not its path code.

A page group makes its router with ``page_router()``; its routes take ``s: Signed`` and answer
with ``render`` or ``see_other``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from services.portal import auth
from services.portal.client import ApiClient, ApiError
from services.portal.csrf import check_csrf
from services.portal.fields import FIELD_TITLES
from services.portal.templating import templates
from shared.auth import Actor
from shared.errors import DomainError
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

#: A service's «… не найден(а)» said as Russian says it, by the refusal's code.
NOT_FOUND_MESSAGES = {
    "PERSON_NOT_FOUND": "Участник не найден", "PAIR_NOT_FOUND": "Пара не найдена",
    "ORGANISATION_NOT_FOUND": "Организация не найдена", "DOCUMENT_NOT_FOUND": "Документ не найден",
    "ROADMAP_NOT_FOUND": "Дорожная карта не найдена", "PROGRAMME_NOT_FOUND": "Программа не найдена",
    "REPORT_NOT_FOUND": "Отчёт не найден", "MEETING_NOT_FOUND": "Встреча не найдена",
    "NOT_FOUND": "Страница не найдена", "NOMINATION_NOT_FOUND": "Выдвижение не найдено",
    "MATERIAL_NOT_FOUND": "Материал не найден", "COMPLETION_NOT_FOUND": "Отметка о прохождении не найдена",
}


def said_well(code: str, message: str) -> str:
    """The refusal's message, with the grammar of the entity it names."""
    if message.endswith("не найден(а)"):
        return NOT_FOUND_MESSAGES.get(code, message.replace("не найден(а)", "не найдено"))
    return message


def invalid_fields(errors: Sequence[Any]) -> str:
    """The fields a validation error names, as their labels: «ФИО подписывающего, Учебный год»."""
    titles = []
    for error in errors:
        # ("body", "signatory_name"), ("query", "as_of"), ("body", "group", 0): the form's field
        names = [part for part in error.get("loc", ())[1:] if isinstance(part, str)]
        title = FIELD_TITLES.get(names[0], "") if names else ""
        if title and title not in titles:
            titles.append(title)
    return ", ".join(titles)


def field_errors(exc: ApiError, known: Iterable[str], by_code: Mapping[str, str] | None = None
                 ) -> tuple[dict[str, str], list[str]]:
    """A service's refusal of a form as messages per field of the form (``known``), and those
    that concern no one field. A refusal without details names its field by its code (``by_code``)."""
    fields: dict[str, str] = {}
    general: list[str] = []
    names = set(known)
    details = [d for d in exc.details if isinstance(d, dict) and "message" in d]
    if not details:
        name = (by_code or {}).get(exc.code)
        if name:
            fields[name] = exc.message
        else:
            general.append(said_well(exc.code, exc.message))
        return fields, general
    for detail in details:
        # "person.birth_date", "grade", "requests.0", or "" for the command as a whole
        parts = [p for p in str(detail.get("field", "")).split(".") if p and not p.isdigit()]
        name = parts[-1] if parts else ""
        message = str(detail["message"])
        if not name and "класс" in message and "grade" in names:
            name = "grade"  # «для обучающегося укажите класс»: the check of the whole command
        if name in names:
            fields.setdefault(name, message[:1].upper() + message[1:])
        else:
            general.append(message)
    return fields, general


class SignInNeeded(Exception):
    pass


class PortalRoute(APIRoute):
    """Turns a missing session into the sign-in page and a service's refusal into an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                # Every state-changing form must come from this site (the SameSite=Strict
                # cookie is the first line; the Origin check the second).
                check_csrf(request.method, request.headers, str(request.base_url),
                           auth.session_token(request), "")
                return await handler(request)
            except SignInNeeded:
                if request.headers.get("HX-Request"):
                    return Response(status_code=204, headers={"HX-Redirect": "/login"})
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            except RequestValidationError as exc:
                if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
                    # /people/not-an-id is an address that leads nowhere, not a form to fix
                    return render(request, "error.html", status=404, code="NOT_FOUND",
                                  message="Такой страницы нет. Проверьте адрес или начните с главной.",
                                  actor=signed_in_or_none(request))
                fields = invalid_fields(exc.errors())
                return render(request, "error.html", status=422, code="VALIDATION_ERROR",
                              message=f"Проверьте заполнение полей: {fields}" if fields
                              else "Проверьте заполнение полей формы")
            except (ApiError, DomainError) as exc:
                message = said_well(exc.code, exc.message)
                if htmx(request):
                    # htmx swaps error answers too (base.html): the alert goes atop the page.
                    response = render(request, "_alert.html", status=exc.status, message=message)
                    response.headers.update({"HX-Retarget": "#main", "HX-Reswap": "afterbegin"})
                    return response
                return render(request, "error.html", status=exc.status, code=exc.code,
                              message=message, actor=signed_in_or_none(request))
            except Exception:
                # A bug of the portal: the user gets a page in Russian, the log the traceback.
                log.exception("portal.page_failed", path=request.url.path)
                return render(request, "error.html", status=500, code="INTERNAL_ERROR",
                              message="Страница не открылась из-за внутренней ошибки. Повторите "
                                      "попытку позже; если ошибка повторится, сообщите администратору.",
                              actor=signed_in_or_none(request))

        return route


def page_router() -> APIRouter:
    """A page group's router: its routes are PortalRoutes, and none is in the OpenAPI document."""
    return APIRouter(route_class=PortalRoute, include_in_schema=False)


def signed_in_or_none(request: Request) -> Actor | None:
    state: Portal | None = getattr(request.app.state, "portal", None)
    return auth.session_actor(request, state.settings) if state else None


@dataclass
class Portal:
    settings: Settings
    http: httpx.AsyncClient
    #: The names of scopes (organisation or territory path → name, when read): the header's.
    scope_names: dict[str, tuple[float, str]] = field(default_factory=dict)


async def portal(request: Request) -> Portal:
    return request.app.state.portal


@dataclass
class Session:
    actor: Actor
    api: ApiClient


#: How long the header trusts a scope's name it read (a renamed school shows within minutes).
SCOPE_NAME_SECONDS = 600.0


async def scope_title(state: Portal, actor: Actor, api: ApiClient) -> str | None:
    """The name of the user's organisation or territory, read once in a while with their own
    token (a user reads the name of their own scope; a scope's name is no secret among its users)."""
    scope = str(actor.scope)
    cached = state.scope_names.get(scope)
    if cached and time.monotonic() - cached[0] < SCOPE_NAME_SECONDS:
        return cached[1]
    try:
        found = await api.get("/registry/organisations", under=scope)
    except ApiError:
        return None  # the header goes without the name; the page itself still opens
    name = next((str(o["name"]) for o in found if o.get("path") == scope), None)
    if name is not None:
        state.scope_names[scope] = (time.monotonic(), name)
    return name


async def session(request: Request, state: Annotated[Portal, Depends(portal)]) -> Session:
    actor = auth.session_actor(request, state.settings)
    token = auth.session_token(request)
    if actor is None or token is None:
        raise SignInNeeded
    api = ApiClient(state.http, token)
    request.state.scope_name = await scope_title(state, actor, api)
    return Session(actor, api)


State = Annotated[Portal, Depends(portal)]
Signed = Annotated[Session, Depends(session)]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("actor", None)
    context.setdefault("scope_name", getattr(request.state, "scope_name", None))
    context["status"] = status
    return templates.TemplateResponse(request, name, context, status_code=status)


def htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def see_other(request: Request, url: str) -> Response:
    """After a form: htmx navigates the whole page itself; a plain browser follows the 303."""
    if htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)

