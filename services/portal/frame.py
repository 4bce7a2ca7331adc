"""The portal's web frame: what every page shares.

- ``PortalRoute`` wraps every page: the CSRF check of each form, the sign-in page for a missing
  session, and Russian error pages (or an htmx alert) for a service's refusal or an invalid form;
- ``Signed`` (the signed-in user and an API client carrying their token) and ``State`` (the
  portal's settings and HTTP client) are what a page asks for;
- ``render`` / ``see_other`` answer with a template or a redirect (htmx-aware);
- ``FIELD_TITLES`` names every form field in Russian for the validation error page.

A page group makes its router with ``page_router()``; its routes take ``s: Signed`` and answer
with ``render`` or ``see_other``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from services.portal import auth
from services.portal.client import ApiClient, ApiError
from services.portal.templating import templates
from shared.auth import Actor
from shared.errors import DomainError
from shared.security import check_csrf
from shared.settings import Settings

#: Every field of the portal's forms and addresses, as its label names it: what a validation
#: error shows the user instead of the parameter's name (test_pages checks none is missing).
FIELD_TITLES = {
    # sign-in
    "login": "Логин", "password": "Пароль", "otp": "Код подтверждения", "next": "Адрес возврата",
    # the bases and imports
    "role": "Роль", "q": "Поиск по ФИО", "consent": "Согласие", "file": "Файл",
    "reason": "Причина", "organisation_id": "Организация", "person_id": "Участник",
    # pairing, pairs, meetings, goals, the pairs order
    "programme": "Программа", "programme_id": "Программа", "order_ref": "Номер и дата приказа",
    "group": "Пары для утверждения", "mentor_id": "Наставник", "mentee_ids": "Наставляемые",
    "pair_id": "Пара", "status": "Состояние", "school_year": "Учебный год",
    "signatory_position": "Должность подписывающего", "signatory_name": "ФИО подписывающего",
    "kind": "Вид встречи", "date": "Дата", "duration_minutes": "Продолжительность, мин.",
    "format": "Формат", "meeting_number": "Встреча", "respondent_id": "Кто отвечает",
    "satisfaction": "Удовлетворённость (1–10)", "went_well": "Что получилось",
    "to_change": "Что изменить", "title": "Цель", "due": "Срок",
    # documents and the roadmap
    "document_id": "Документ", "fmt": "Формат файла", "roadmap_id": "Дорожная карта",
    "item_id": "Мероприятие", "evidence_document_id": "Подтверждающий документ",
    # surveys
    "code": "Анкета", "respondent": "Кто отвечает", "stage": "Этап", "show": "Показать",
    # reports
    "draft_id": "Отчёт", "organisation_name": "Наименование организации",
    "parent_organisation": "Вышестоящая организация", "territory": "Территория",
    "place": "Место составления", "position": "Должность подписывающего",
    "full_name": "ФИО подписывающего", "conclusions": "Выводы",
    # dashboards and the auditor
    "org": "Территория или организация", "as_of": "Дата", "record": "Идентификатор записи",
    "name": "Файл",
    # best practices and awards (issue 21)
    "practice_title": "Название практики", "description": "Описание", "form": "Форма наставничества",
    "other_form": "Другая форма", "tags": "Темы", "decision": "Решение", "comment": "Комментарий",
    "merit": "За что", "award": "Вид поощрения", "text": "Текст письма", "addressee": "Адресат",
    "practice_id": "Практика", "tag": "Тема", "period": "Отчётный период",
}


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
                fields = invalid_fields(exc.errors())
                return render(request, "error.html", status=422, code="VALIDATION_ERROR",
                              message=f"Проверьте заполнение полей: {fields}" if fields
                              else "Проверьте заполнение полей формы")
            except (ApiError, DomainError) as exc:
                if htmx(request):
                    # htmx swaps error answers too (base.html): the alert goes atop the page.
                    response = render(request, "_alert.html", status=exc.status, message=exc.message)
                    response.headers.update({"HX-Retarget": "#main", "HX-Reswap": "afterbegin"})
                    return response
                return render(request, "error.html", status=exc.status, code=exc.code,
                              message=exc.message, actor=signed_in_or_none(request))

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


def portal(request: Request) -> Portal:
    return request.app.state.portal


@dataclass
class Session:
    actor: Actor
    api: ApiClient


def session(request: Request, state: Annotated[Portal, Depends(portal)]) -> Session:
    actor = auth.session_actor(request, state.settings)
    token = auth.session_token(request)
    if actor is None or token is None:
        raise SignInNeeded
    return Session(actor, ApiClient(state.http, token))


State = Annotated[Portal, Depends(portal)]
Signed = Annotated[Session, Depends(session)]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("actor", None)
    context["status"] = status
    return templates.TemplateResponse(request, name, context, status_code=status)


def htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def see_other(request: Request, url: str) -> Response:
    """After a form: htmx navigates the whole page itself; a plain browser follows the 303."""
    if htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)

