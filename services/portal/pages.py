"""The portal's pages: each asks the services' public APIs with the user's token and renders HTML.

Routes stay thin: the services decide who may see what; a refusal from a service becomes a
Russian error page with the same status, so typing another school's address shows nothing.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from services.portal import auth, export
from services.portal.charts import Bar, bar_chart, number
from services.portal.client import ApiClient, ApiError
from services.portal.csrf import check_csrf
from services.portal.survey_status import pair_surveys
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.middlewares import client_address
from shared.settings import Settings
from shared.uploads import MAX_UPLOAD_BYTES

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(role_titles=auth.ROLE_TITLES, number=number, Role=Role)

KIND_TITLES = {"region": "регион", "municipality": "муниципалитет", "school": "школа",
               "college": "колледж", "employer": "предприятие", "university": "вуз",
               "additional": "организация доп. образования", "partner": "партнёр"}
CATEGORY_TITLES = {"student": "обучающийся", "teacher": "педагог", "young_teacher": "молодой педагог",
                   "college_student": "студент колледжа", "university_student": "студент вуза",
                   "employer": "представитель работодателя", "graduate": "выпускник",
                   "parent": "родитель", "partner": "партнёр"}
CONSENT_TITLES = {"self": "дано лично", "guardian": "дано законным представителем"}
#: Figures a dashboard shows, in this order, with their Russian names.
DASHBOARD_METRICS: list[tuple[str, str]] = [
    ("mentees", "Наставляемые"), ("mentors", "Наставники"), ("consents.active", "Действующие согласия"),
    ("consents.withdrawn", "Отозванные согласия"), ("pairs.active", "Действующие пары"),
    ("meetings.held", "Проведено встреч"), ("feedback.satisfaction_avg", "Средняя оценка (из 10)"),
    ("documents.issued", "Выпущено документов"), ("programmes", "Программы"),
]
templates.env.globals.update(kind_titles=KIND_TITLES, category_titles=CATEGORY_TITLES,
                             consent_titles=CONSENT_TITLES)
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



def ru_date(value: str | None) -> str:
    """``2025-10-01`` (or a timestamp) as Russians write it: ``01.10.2025``."""
    if not value:
        return "—"
    text = str(value)[:10]
    try:
        return datetime.date.fromisoformat(text).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


templates.env.filters["ru_date"] = ru_date


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


router = APIRouter(route_class=PortalRoute, include_in_schema=False)


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


# --- static assets (vendored: the portal works offline) -----------------------------------------

@router.get("/static/{name}")
def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        raise DomainError("NOT_FOUND", "Файл не найден", 404)
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=86400"})


# --- sign-in ----------------------------------------------------------------------------------

def login_form(request: Request, state: State, next: str, status: int = 200,
               error: str | None = None, login: str = "") -> HTMLResponse:
    demo = state.settings.region == "demo"
    return render(request, "login.html", status=status, error=error, login=login,
                  accounts=auth.demo_accounts(state.settings.region) if demo else [],
                  demo_password=auth.DEMO_PASSWORD if demo else None, next=safe_next(next))


@router.get("/login")
def login_page(request: Request, state: State, next: str = "/") -> HTMLResponse:
    return login_form(request, state, next)


@router.post("/login")
async def login(request: Request, state: State, login: Annotated[str, Form(max_length=100)],
                password: Annotated[str, Form(max_length=200)],
                otp: Annotated[str, Form(max_length=10)] = "",
                next: Annotated[str, Form()] = "/") -> Response:
    # The registry checks the password, the lock-out and the second factor, as for any client.
    # It throttles per user's address, not the portal's, once it lists the portal as a trusted proxy.
    user_address = client_address(request.scope, state.settings.trusted_proxies)
    response = await state.http.post("/auth/login", json={
        "login": login, "password": password, "otp": otp or None},
        headers={"X-Forwarded-For": user_address})
    if response.status_code != 200:
        message = response.json().get("message", "Не удалось войти") if response.content else (
            "Не удалось войти")
        return login_form(request, state, next, status=response.status_code, error=message,
                          login=login)
    tokens = response.json()
    redirect = RedirectResponse(safe_next(next), status_code=303)
    auth.start_session(redirect, tokens["access_token"], int(tokens["expires_in"]),
                       secure=request.url.scheme == "https")
    return redirect


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    auth.end_session(response)
    return response


def safe_next(target: str) -> str:
    """Only paths of this site: a crafted link must not send the user elsewhere after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/")
async def home(s: Signed) -> Response:
    if s.actor.role is Role.CURATOR:
        own = await own_organisation(s)
        return RedirectResponse(f"/organisations/{own['id']}", status_code=303)
    if s.actor.role is Role.AUDITOR:
        return RedirectResponse("/auditor", status_code=303)
    return RedirectResponse("/dashboard", status_code=303)


async def own_organisation(s: Session) -> dict[str, Any]:
    for org in await s.api.get("/registry/organisations"):
        if org["path"] == str(s.actor.scope):
            return dict(org)
    raise DomainError("ORGANISATION_NOT_FOUND", "Ваша организация ещё не зарегистрирована", 404)


# --- curator: the bases -------------------------------------------------------------------------

ConsentFilter = Literal["", "active", "withdrawn"]


@router.get("/organisations/{organisation_id}")
async def organisation_page(request: Request, organisation_id: UUID, s: Signed,
                            role: Literal["", "mentor", "mentee"] = "",
                            q: Annotated[str, Query(max_length=100)] = "",
                            consent: ConsentFilter = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    if org["kind"] in ("region", "municipality"):
        return RedirectResponse(f"/dashboard?org={quote(org['path'])}", status_code=303)
    people = await s.api.get(f"/registry/organisations/{organisation_id}/people",
                             role=role or None, search=q.strip() or None)
    if consent == "active":
        people = [p for p in people if p["consent"] and not p["withdrawn"]]
    elif consent == "withdrawn":
        people = [p for p in people if p["withdrawn"]]
    context = {"actor": s.actor, "org": org, "people": people, "role": role, "q": q,
               "consent": consent, "can_write": s.actor.can_write(OrgPath.parse(org["path"]))}
    if htmx(request) and request.headers.get("HX-Target") == "people":
        return render(request, "_people.html", **context)
    return render(request, "organisation.html", **context)


@router.get("/organisations/{organisation_id}/import")
async def import_page(request: Request, organisation_id: UUID, s: Signed,
                      role: Literal["mentor", "mentee"] = "mentee") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    s.actor.require_write(OrgPath.parse(org["path"]))
    return render(request, "import.html", actor=s.actor, org=org, role=role)


@router.post("/organisations/{organisation_id}/import")
async def import_file(request: Request, organisation_id: UUID, s: Signed,
                      role: Annotated[Literal["mentor", "mentee"], Form()],
                      file: Annotated[UploadFile, File()]) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    context: dict[str, Any] = {"actor": s.actor, "org": org, "role": role}
    try:
        if not file.filename or not data:
            raise ApiError(422, "EMPTY_FILE", "Выберите файл XLSX или CSV")
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "FILE_TOO_LARGE", "Файл больше 10 МБ")
        result = await s.api.post(f"/registry/organisations/{organisation_id}/import",
                                  params={"role": role}, files={"file": (file.filename, data)})
        context["imported"] = result["imported"]
        status = 200
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        context.update(error=exc.message, rows=exc.details)
        status = 422
    if htmx(request):
        return render(request, "_import_result.html", status=status, **context)
    return render(request, "import.html", status=status, **context)


@router.get("/organisations/{organisation_id}/template")
async def import_template(organisation_id: UUID, s: Signed,
                          role: Literal["mentor", "mentee"] = "mentee") -> Response:
    upstream = await s.api.request("GET", "/registry/import-template", params={"role": role})
    return Response(upstream.content, media_type=upstream.headers.get("content-type"),
                    headers={"Content-Disposition": upstream.headers.get("content-disposition", "")})


@router.get("/people/{person_id}")
async def person_page(request: Request, person_id: UUID, s: Signed) -> Response:
    person = await s.api.get(f"/registry/people/{person_id}")
    org = await s.api.get(f"/registry/organisations/{person['organisation_id']}")
    return render(request, "person.html", actor=s.actor, person=person, org=org,
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])))


@router.post("/people/{person_id}/withdraw")
async def withdraw(person_id: UUID, s: Signed,
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    await s.api.post(f"/registry/people/{person_id}/consent/withdraw", json={"reason": reason})
    return RedirectResponse(f"/people/{person_id}?withdrawn=1", status_code=303)


# --- curator: documents (the roadmap is in roadmaps.py) -------------------------------------------

@router.get("/organisations/{organisation_id}/documents")
async def documents_page(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    documents = await s.api.get("/documents", under=org["path"])
    return render(request, "documents.html", actor=s.actor, org=org,
                  documents=sorted(documents, key=lambda d: (d["date"], d["number"]), reverse=True))


@router.get("/files/{document_id}/{fmt}")
async def download(document_id: UUID, fmt: Literal["docx", "pdf"], s: Signed) -> Response:
    upstream = await s.api.request("GET", f"/documents/{document_id}/{fmt}")
    headers = {k: v for k, v in upstream.headers.items()
               if k.lower() in ("content-disposition", "x-content-sha256")}
    return Response(upstream.content, media_type=upstream.headers.get("content-type"),
                    headers=headers)


# --- curator: pairing board, pairs, meetings, the pairs order ---------------------------------

MEETING_KINDS = {"intro": "встреча-знакомство", "trial": "пробная встреча",
                 "planning": "встреча-планирование", "regular": "регулярная встреча",
                 "final": "итоговая встреча"}
MEETING_FORMATS = {"in_person": "очно", "online": "дистанционно"}
GOAL_STATUSES = {"planned": "запланирована", "in_progress": "в работе", "done": "достигнута",
                 "dropped": "снята"}
PAIR_STATUSES = {"active": "действует", "completed": "завершена", "dissolved": "расформирована"}
templates.env.globals.update(meeting_kinds=MEETING_KINDS, meeting_formats=MEETING_FORMATS,
                             goal_statuses=GOAL_STATUSES, pair_statuses=PAIR_STATUSES)


async def names_of(s: Session, organisation_id: UUID | str) -> dict[str, str]:
    """Names come from the registry, the only place that holds them, with the user's token."""
    people = await s.api.get(f"/registry/organisations/{organisation_id}/people")
    return {p["id"]: p["full_name"] or "данные удалены" for p in people}


@router.get("/organisations/{organisation_id}/pairing")
async def pairing_board(request: Request, organisation_id: UUID, s: Signed,
                        programme: UUID | None = None) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    programmes = await s.api.get(f"/registry/organisations/{organisation_id}/programmes")
    chosen = next((p for p in programmes if p["id"] == str(programme)), programmes[0] if programmes else None)
    suggestions, pool, names = None, None, await names_of(s, organisation_id)
    if chosen is not None:
        suggestions, pool = await asyncio.gather(
            s.api.get("/pairing/suggestions", programme_id=chosen["id"]),
            s.api.get(f"/pairing/organisations/{organisation_id}/pool"))
    return render(request, "pairing.html", actor=s.actor, org=org, programmes=programmes,
                  programme=chosen, suggestions=suggestions, pool=pool, names=names,
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  error=request.query_params.get("error"))


def group_value(mentor_id: str, mentee_ids: list[str]) -> str:
    return mentor_id + ":" + ",".join(mentee_ids)


templates.env.globals.update(group_value=group_value)


def parse_group(value: str) -> dict[str, Any]:
    mentor, _, mentees = value.partition(":")
    try:
        return {"mentor_id": str(UUID(mentor)), "mentee_ids": [str(UUID(m)) for m in mentees.split(",") if m]}
    except ValueError as exc:
        raise DomainError("INVALID_GROUP", "Неверный выбор пары", 422) from exc


@router.post("/organisations/{organisation_id}/pairing/confirm")
async def confirm_pairs(organisation_id: UUID, s: Signed, programme_id: Annotated[UUID, Form()],
                        order_ref: Annotated[str, Form(max_length=100)] = "",
                        group: Annotated[list[str] | None, Form()] = None) -> Response:
    board = f"/organisations/{organisation_id}/pairing?programme={programme_id}"
    if not group:
        return RedirectResponse(board + "&error=" + quote("Отметьте хотя бы одну пару"), status_code=303)
    try:
        await s.api.post("/pairing/suggestions/confirm", json={
            "programme_id": str(programme_id), "order_ref": order_ref,
            "groups": [parse_group(g) for g in group]})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(board + "&error=" + quote(exc.message), status_code=303)
    return RedirectResponse(f"/organisations/{organisation_id}/pairs?confirmed={len(group)}", status_code=303)


@router.post("/organisations/{organisation_id}/pairing/manual")
async def form_group(organisation_id: UUID, s: Signed, programme_id: Annotated[UUID, Form()],
                     mentor_id: Annotated[UUID, Form()],
                     mentee_ids: Annotated[list[UUID] | None, Form()] = None,
                     order_ref: Annotated[str, Form(max_length=100)] = "") -> Response:
    board = f"/organisations/{organisation_id}/pairing?programme={programme_id}"
    try:
        if not mentee_ids:
            raise ApiError(422, "NO_MENTEES", "Выберите хотя бы одного наставляемого")
        await s.api.post("/pairing/pairs", json={
            "programme_id": str(programme_id), "mentor_id": str(mentor_id),
            "mentee_ids": [str(m) for m in mentee_ids], "order_ref": order_ref or None})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(board + "&error=" + quote(exc.message), status_code=303)
    return RedirectResponse(f"/organisations/{organisation_id}/pairs?confirmed=1", status_code=303)


@router.get("/organisations/{organisation_id}/pairs")
async def pairs_page(request: Request, organisation_id: UUID, s: Signed,
                     status: Literal["", "active", "completed", "dissolved"] = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    pairs, names = await asyncio.gather(
        s.api.get("/pairing/pairs", organisation_id=str(organisation_id), status=status or None),
        names_of(s, organisation_id))
    return render(request, "pairs.html", actor=s.actor, org=org, pairs=pairs, names=names,
                  pair_status=status, can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  confirmed=request.query_params.get("confirmed"),
                  error=request.query_params.get("error"))


@router.post("/organisations/{organisation_id}/pairs-order")
async def issue_pairs_order(request: Request, organisation_id: UUID, s: Signed,
                            school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                            signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                            signatory_name: Annotated[str, Form(min_length=3, max_length=200)]) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    pairs = await s.api.get("/pairing/pairs", organisation_id=str(organisation_id), status="active")
    page = f"/organisations/{organisation_id}/pairs"
    if not pairs:
        return see_other(request, page + "?error=" + quote("Нет действующих пар для приказа"))
    try:
        issued = await s.api.post("/documents/pairs-order", json={
            "org": org["path"], "organisation_name": org["name"], "school_year": school_year,
            "signatory": {"position": signatory_position, "full_name": signatory_name},
            "pairs": [{"pair_id": p["id"], "mentor_id": p["mentor_id"], "mentee_ids": p["mentee_ids"],
                       "form": p["form"]}
                      for p in pairs]})
    except ApiError as exc:
        if exc.status == 401:
            raise
        # e.g. a pair with a mentor from another organisation, whose name this user may not read
        return see_other(request, page + "?error=" + quote("Приказ не сформирован: " + exc.message))
    return see_other(request, f"/organisations/{organisation_id}/documents?issued={issued['id']}")


@router.get("/pairs/{pair_id}")
async def pair_page(request: Request, pair_id: UUID, s: Signed) -> Response:
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")
    org, names = await asyncio.gather(s.api.get(f"/registry/organisations/{pair['organisation_id']}"),
                                      names_of(s, pair["organisation_id"]))
    feedback, surveys = await asyncio.gather(
        asyncio.gather(*(s.api.get(f"/pairing/pairs/{pair_id}/meetings/{m['number']}/feedback")
                         for m in pair["meetings"])),
        pair_surveys(s.api, pair, org["path"], names))
    meetings = [{**m, "answers": answers} for m, answers in zip(pair["meetings"], feedback, strict=True)]
    writer = s.actor.can_write(OrgPath.parse(org["path"]))
    return render(request, "pair.html", actor=s.actor, org=org, pair=pair, names=names,
                  meetings=meetings, today=date_today(), surveys=surveys, writer=writer,
                  can_write=writer and pair["status"] == "active",
                  error=request.query_params.get("error"),
                  recorded=request.query_params.get("recorded"),
                  pending=request.query_params.get("pending"),
                  closed=request.query_params.get("closed"))


def date_today() -> str:
    return datetime.date.today().isoformat()


async def pair_command(pair_id: UUID, s: Session, url: str, body: dict[str, Any]) -> Response:
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/{url}", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(f"/pairs/{pair_id}?error=" + quote(exc.message), status_code=303)
    return RedirectResponse(f"/pairs/{pair_id}", status_code=303)


# --- ending a pair's work: completion and dissolution, each confirmed on a page of its own ------

CloseAction = Literal["complete", "dissolve"]


async def close_page(request: Request, pair_id: UUID, s: Session, action: CloseAction,
                     status: int = 200, error: str | None = None, reason: str = "") -> Response:
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")
    org, names = await asyncio.gather(s.api.get(f"/registry/organisations/{pair['organisation_id']}"),
                                      names_of(s, pair["organisation_id"]))
    s.actor.require_write(OrgPath.parse(org["path"]))
    last = pair["meetings"][-1]["kind"] if pair["meetings"] else None
    return render(request, "pair_close.html", status=status, actor=s.actor, org=org, pair=pair,
                  names=names, action=action, error=error, reason=reason,
                  ready=action == "dissolve" or last == "final")


@router.get("/pairs/{pair_id}/complete")
async def complete_confirm(request: Request, pair_id: UUID, s: Signed) -> Response:
    return await close_page(request, pair_id, s, "complete")


@router.get("/pairs/{pair_id}/dissolve")
async def dissolve_confirm(request: Request, pair_id: UUID, s: Signed) -> Response:
    return await close_page(request, pair_id, s, "dissolve")


@router.post("/pairs/{pair_id}/complete")
async def complete_pair(request: Request, pair_id: UUID, s: Signed) -> Response:
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/complete", json={})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await close_page(request, pair_id, s, "complete", exc.status, exc.message)
    return RedirectResponse(f"/pairs/{pair_id}?closed=completed", status_code=303)


@router.post("/pairs/{pair_id}/dissolve")
async def dissolve_pair(request: Request, pair_id: UUID, s: Signed,
                        reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    try:
        if len(reason.strip()) < 3:
            raise ApiError(422, "REASON_REQUIRED", "Укажите причину расформирования (не короче 3 знаков)")
        await s.api.post(f"/pairing/pairs/{pair_id}/dissolve", json={"reason": reason.strip()})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await close_page(request, pair_id, s, "dissolve", exc.status, exc.message, reason)
    return RedirectResponse(f"/pairs/{pair_id}?closed=dissolved", status_code=303)


@router.post("/pairs/{pair_id}/meetings")
async def log_meeting(pair_id: UUID, s: Signed, kind: Annotated[str, Form()], date: Annotated[str, Form()],
                      duration_minutes: Annotated[int, Form()],
                      format: Annotated[str, Form()] = "in_person") -> Response:  # noqa: A002
    return await pair_command(pair_id, s, "meetings", {
        "kind": kind, "date": date, "duration_minutes": duration_minutes, "format": format})


@router.post("/pairs/{pair_id}/feedback")
async def log_feedback(pair_id: UUID, s: Signed, meeting_number: Annotated[int, Form()],
                       respondent_id: Annotated[UUID, Form()], satisfaction: Annotated[int, Form()],
                       went_well: Annotated[str, Form(max_length=4000)] = "",
                       to_change: Annotated[str, Form(max_length=4000)] = "") -> Response:
    return await pair_command(pair_id, s, "feedback", {
        "meeting_number": meeting_number, "respondent_id": str(respondent_id),
        "satisfaction": satisfaction, "went_well": went_well, "to_change": to_change})


@router.post("/pairs/{pair_id}/goals")
async def add_goal(pair_id: UUID, s: Signed, title: Annotated[str, Form(max_length=500)],
                   due: Annotated[str, Form()] = "") -> Response:
    return await pair_command(pair_id, s, "goals", {"title": title, "due": due or None})


# --- municipality and region: dashboards --------------------------------------------------------

@dataclass
class Dashboard:
    scope: str
    current: dict[str, Any]
    ancestors: list[dict[str, Any]]
    #: What monitoring's ``/monitoring/dashboard`` answers for the scope (KPIs, counts, units).
    figures: dict[str, Any]
    children: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    as_of: str | None


#: The KPI a unit is ranked by.
RANKING_KPI = "students_mentees"


async def load_dashboard(s: Session, org: str | None, as_of: str | None = None) -> Dashboard:
    scope = parse_scope(org, s.actor)
    # Everything the user may read, once: the scope, its ancestors for the breadcrumbs, children.
    organisations = await s.api.get("/registry/organisations")
    by_path = {o["path"]: o for o in organisations}
    current = by_path.get(scope)
    if current is None:
        raise DomainError("ORGANISATION_NOT_FOUND", "Организация или территория не найдена", 404)
    path = OrgPath.parse(scope)
    ancestors = [by_path[p] for p in (path.region, f"{path.region}/{path.municipality}")
                 if p in by_path and p != scope]
    children = [o for o in organisations if o["parent_id"] == current["id"]]
    # As of a date each unit's KPIs would be one more replay of the log: rank by counts then.
    live = as_of is None
    own, overdue, *each = await asyncio.gather(
        s.api.get("/monitoring/dashboard", org=scope, as_of=as_of),
        s.api.get("/documents/roadmaps/overdue", under=scope) if live else no_items(),
        *(s.api.get("/monitoring/kpis", org=c["path"]) for c in children if live))
    for item in overdue:
        item["organisation"] = by_path.get(item["path"], {}).get("name", item["path"])
    units = {u["scope"]: u for u in own.get("units", [])}
    kpis = [next((k for k in e["kpis"] if k["code"] == RANKING_KPI), None) for e in each]
    kpis = kpis or [None] * len(children)
    rows = [{**child, "figures": units.get(child["path"], {}), "kpi": kpi,
             "late": sum(OrgPath.parse(child["path"]).contains(OrgPath.parse(i["path"])) for i in overdue)}
            for child, kpi in zip(children, kpis, strict=True)]
    rows.sort(key=lambda r: (-((r["kpi"] or {}).get("value") or 0), -r["figures"].get("mentees", 0),
                             r["name"]))
    return Dashboard(scope, current, ancestors, own, rows, overdue, own.get("as_of"))


async def no_items() -> list[dict[str, Any]]:
    return []


def parse_scope(org: str | None, actor: Actor) -> str:
    if not org:
        return str(actor.scope)
    try:
        path = OrgPath.parse(org)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc
    actor.require_read(path)
    return str(path)


def kpi_chart(kpis: list[dict[str, Any]]) -> Any:
    return bar_chart("Показатели целевой модели: доля и цель", [
        Bar(k["title"], round((k["value"] or 0) * 100, 1),
            round(k["target"] * 100, 1) if k.get("target") is not None else None)
        for k in kpis if not k.get("suppressed")], unit="%")


@router.get("/dashboard")
async def dashboard(request: Request, s: Signed, org: str | None = None,
                    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None) -> Response:
    data = await load_dashboard(s, org, as_of)
    chart = bar_chart("Наставляемые по организациям", [
        Bar(row["name"], row["figures"].get("mentees", 0)) for row in data.children
    ]) if data.children else None
    months = data.figures.get("meetings", {}).get("by_month", [])
    trend = bar_chart("Встречи по месяцам", [Bar(m["month"], m["meetings"] or 0) for m in months]) \
        if months else None
    return render(request, "dashboard.html", actor=s.actor, d=data, chart=chart, trend=trend,
                  kpis=kpi_chart(data.figures.get("kpis", [])))


@router.get("/dashboard/export.xlsx")
async def dashboard_export(s: Signed, org: str | None = None,
                           as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
                           ) -> Response:
    data = await load_dashboard(s, org, as_of)
    content = export.dashboard_xlsx(data.current, data.figures, data.children, data.overdue, KIND_TITLES)
    name = f"monitoring-{data.scope.replace('/', '-')}{'-' + as_of if as_of else ''}.xlsx"
    return Response(content, media_type=export.XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={name}"})


# --- auditor ----------------------------------------------------------------------------------

@router.get("/auditor")
async def auditor_page(request: Request, s: Signed) -> Response:
    return render(request, "auditor.html", actor=s.actor)


@router.get("/auditor/verify")
async def auditor_verify(request: Request, s: Signed) -> Response:
    result = await s.api.get("/audit/verify")
    return render(request, "_verify.html", actor=s.actor, result=result)


@router.get("/auditor/trail")
async def auditor_trail(request: Request, s: Signed,
                        record: Annotated[str, Query(max_length=64)]) -> Response:
    entries = await s.api.get(f"/audit/trail/{quote(record.strip())}")
    return render(request, "trail.html", actor=s.actor, record=record.strip(), entries=entries)
