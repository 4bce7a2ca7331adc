"""HTTP routes of the documents service: they translate requests into commands and queries.

Routes that print names ask the registry for them over NATS with the caller's own token, so the
registry decides who may see whom — at issue and again at every download, since a document that
names registry persons is kept as its recipe (ids) and rendered anew; names are never stored.
Reports ask the monitoring service for the dashboard of their unit the same way, so a report
holds the figures its dashboard shows to that user; a pairs order asks the pairing service which
of its pairs exist, so it approves only pairs that were formed, as they were formed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

import nats.errors
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from nats.aio.client import Client
from pydantic import Field

from services.documents import recipes, templates
from services.documents.application import DocumentsService
from services.documents.domain import ItemStatus
from services.documents.names import fetch_people
from services.documents.pairs import verified_order
from services.documents.recipes import (
    AwardOrderIn,
    Body,
    ConsentIn,
    CuratorOrderIn,
    PairsOrderIn,
    ReportIn,
    ReportTextIn,
    ThanksLetterIn,
)
from services.monitoring.rpc import DASHBOARD_SUBJECT
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.uploads import MAX_UPLOAD_BYTES, check_zip_bomb
from shared.web import Context, CurrentActor

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def documents_service(request: Request) -> DocumentsService:
    return request.app.state.documents


def bus(request: Request) -> Client | None:
    return getattr(request.app.state, "documents_nats", None)


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    return (authorization or "")[7:].strip()


Documents = Annotated[DocumentsService, Depends(documents_service)]
Bus = Annotated[Client | None, Depends(bus)]
Token = Annotated[str, Depends(bearer_token)]
router = APIRouter(prefix="/documents", tags=["documents"])


def parse_path(text: str) -> OrgPath:
    try:
        return OrgPath.parse(text)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc


async def _issue(kind: str, body: recipes.IssueIn, ctx: Any, documents: DocumentsService,
                 nc: Client | None, token: str) -> dict[str, Any]:
    """Rights first (a refusal must not cost the registry a call), then names, then the document."""
    path = _require_issuer(ctx, body.org)
    names = await fetch_people(nc, token, recipes.people(kind, body))
    return await asyncio.to_thread(documents.issue_document, ctx, path, kind, body, names)


def _require_issuer(ctx: Any, org: str) -> OrgPath:
    path = parse_path(org)
    ctx.actor.require_write(path)
    return path


@router.post("/pairs-order", status_code=201)
async def pairs_order(body: PairsOrderIn, ctx: Context, documents: Documents, nc: Bus,
                      token: Token) -> dict[str, Any]:
    """Rights, then the pairs as the pairing service has them (an unknown, foreign, closed or
    misdescribed pair refuses the whole order), then names, then the document."""
    path = _require_issuer(ctx, body.org)
    recipe = await verified_order(nc, token, path, body)
    names = await fetch_people(nc, token, recipes.people("pairs_order", recipe))
    return await asyncio.to_thread(documents.issue_document, ctx, path, "pairs_order", recipe,
                                   names)


@router.post("/curator-order", status_code=201)
async def curator_order(body: CuratorOrderIn, ctx: Context, documents: Documents, nc: Bus,
                        token: Token) -> dict[str, Any]:
    return await _issue("curator_order", body, ctx, documents, nc, token)


@router.post("/award-order", status_code=201)
async def award_order(body: AwardOrderIn, ctx: Context, documents: Documents, nc: Bus,
                      token: Token) -> dict[str, Any]:
    return await _issue("award_order", body, ctx, documents, nc, token)


@router.post("/thanks-letter", status_code=201)
async def thanks_letter(body: ThanksLetterIn, ctx: Context, documents: Documents, nc: Bus,
                        token: Token) -> dict[str, Any]:
    return await _issue("thanks_letter", body, ctx, documents, nc, token)


@router.post("/consent", status_code=201)
async def consent(body: ConsentIn, ctx: Context, documents: Documents, nc: Bus,
                  token: Token) -> dict[str, Any]:
    return await _issue("consent", body, ctx, documents, nc, token)


@router.post("/report", status_code=201)
async def report(body: ReportIn, ctx: Context, documents: Documents, nc: Bus,
                 token: Token) -> dict[str, Any]:
    """A report issued on demand (one prepared from ``ReportDue`` is submitted below), filled
    from the monitoring dashboard of ``org``."""
    path = _require_issuer(ctx, body.org)
    dashboard, units = await fetch_figures(nc, token, path)
    content = recipes.report_content(body, body.period, dashboard, units)
    return await asyncio.to_thread(
        documents.issue, ctx, path, "report",
        lambda number, day: templates.analytic_report(body.requisites(number, day), content),
        title=f"Информационно-аналитический отчёт за {body.period}")


@router.get("")
def list_documents(actor: CurrentActor, documents: Documents, under: str | None = None,
                   kind: templates.DocumentKind | None = None) -> list[dict[str, Any]]:
    return documents.list_documents(actor, parse_path(under) if under else None, kind)


# --- roadmaps ------------------------------------------------------------------------------------

@router.post("/roadmaps", status_code=201)
async def import_roadmap(ctx: Context, documents: Documents, org: Annotated[str, Form()],
                         file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    path = _require_issuer(ctx, org)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError("FILE_TOO_LARGE", "Файл больше 10 МБ", 413)
    if not data.strip():
        raise DomainError("EMPTY_FILE", "Файл пуст", 422)
    check_zip_bomb(data)  # before python-docx inflates anything
    return await asyncio.to_thread(documents.import_roadmap, ctx, path, data, file.filename or "")


@router.get("/roadmaps")
def list_roadmaps(actor: CurrentActor, documents: Documents,
                  under: str | None = None) -> list[dict[str, Any]]:
    return documents.list_roadmaps(actor, parse_path(under) if under else None)


@router.get("/roadmaps/overdue")
def overdue_items(actor: CurrentActor, documents: Documents,
                  under: str | None = None) -> list[dict[str, Any]]:
    return documents.overdue_items(actor, parse_path(under) if under else None)


@router.get("/roadmaps/{roadmap_id}")
def get_roadmap(roadmap_id: UUID, actor: CurrentActor, documents: Documents) -> dict[str, Any]:
    return documents.get_roadmap(actor, roadmap_id)


class ItemUpdateIn(Body):
    status: ItemStatus
    evidence_document_id: UUID | None = None
    due_date: date | None = Field(
        default=None, description="Срок мероприятия, к которому относится отметка (один из "
        "due_dates); без него — ближайший невыполненный срок")


@router.put("/roadmaps/{roadmap_id}/items/{item_id}")
def update_item(roadmap_id: UUID, item_id: str, body: ItemUpdateIn, ctx: Context,
                documents: Documents) -> dict[str, Any]:
    """Mark one deadline of an item (a yearly item is done year by year)."""
    return documents.update_item(ctx, roadmap_id, item_id, body.status, body.evidence_document_id,
                                 body.due_date)


# --- the bank of best practices ------------------------------------------------------------

class PracticeIn(Body):
    org: str
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=10, max_length=20000)
    form: str = Field(min_length=2, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=30)


class ReviewIn(Body):
    decision: Literal["publish", "reject"]
    comment: str = Field(default="", max_length=2000)


@router.post("/practices", status_code=201)
def submit_practice(body: PracticeIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return documents.submit_practice(ctx, parse_path(body.org), body.title, body.description,
                                     body.form, body.tags)


@router.post("/practices/{practice_id}/review")
def review_practice(practice_id: UUID, body: ReviewIn, ctx: Context,
                    documents: Documents) -> dict[str, Any]:
    return documents.review_practice(ctx, practice_id, body.decision == "publish", body.comment)


@router.get("/practices")
def search_practices(actor: CurrentActor, documents: Documents,
                     form: Annotated[str | None, Query(max_length=100)] = None,
                     tag: Annotated[str | None, Query(max_length=100)] = None,
                     q: Annotated[str | None, Query(max_length=200)] = None,
                     status: Literal["published", "submitted", "rejected"] = "published",
                     ) -> list[dict[str, Any]]:
    return documents.search_practices(actor, form, tag, q, status)


@router.get("/practices/{practice_id}")
def get_practice(practice_id: UUID, actor: CurrentActor, documents: Documents) -> dict[str, Any]:
    return documents.get_practice(actor, practice_id)


# --- reports ---------------------------------------------------------------------------------------

@router.get("/reports")
def list_reports(actor: CurrentActor, documents: Documents,
                 under: str | None = None) -> list[dict[str, Any]]:
    return documents.list_reports(actor, parse_path(under) if under else None)


@router.post("/reports/{report_id}/submit")
async def submit_report(report_id: UUID, body: ReportTextIn, ctx: Context, documents: Documents,
                        nc: Bus, token: Token) -> dict[str, Any]:
    """Submit a draft: the report is filled from the dashboard of the draft's unit."""
    path = await asyncio.to_thread(documents.report_path, ctx.actor, report_id)
    ctx.actor.require_write(path)  # a refusal must not cost monitoring a call
    dashboard, units = await fetch_figures(nc, token, path)

    def build(number: str, day: date, report: dict[str, Any]) -> bytes:
        content = recipes.report_content(body, report["period"], dashboard, units)
        return templates.analytic_report(body.requisites(number, day), content)

    return await asyncio.to_thread(documents.submit_report, ctx, report_id, build)


async def fetch_dashboard(nc: Client | None, token: str, org: str,
                          timeout: float = 30.0) -> dict[str, Any]:
    """The dashboard of ``org`` as monitoring shows it to the token's user, or its refusal."""
    unavailable = DomainError("MONITORING_UNAVAILABLE",
                              "Сервис мониторинга недоступен, повторите позже", 503)
    if nc is None or not nc.is_connected:
        raise unavailable
    request = json.dumps({"token": token, "org": org}).encode()
    try:
        message = await nc.request(DASHBOARD_SUBJECT, request, timeout=timeout)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
        raise unavailable from exc
    reply = json.loads(message.data)
    if "error" in reply:
        error = reply["error"]
        raise DomainError(error["code"], error["message"], int(error["status"]))
    return dict(reply["dashboard"])


async def fetch_figures(nc: Client | None, token: str,
                        path: OrgPath) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The unit's dashboard, and those of the units under it (their satisfaction is not in the
    unit's own table). An organisation directly under the region («_» in its scope) has no path
    of its own to ask with; its row then shows no satisfaction."""
    dashboard = await fetch_dashboard(nc, token, str(path))
    scopes = [u["scope"] for u in dashboard["units"] if "/_/" not in u["scope"]]
    answers = await asyncio.gather(*(fetch_dashboard(nc, token, s) for s in scopes))
    return dashboard, dict(zip(scopes, answers, strict=True))


# --- one document (after the fixed paths above, which these would otherwise shadow) ---------------

@router.get("/{document_id}")
def get_document(document_id: UUID, actor: CurrentActor, documents: Documents) -> dict[str, Any]:
    return documents.get_document(actor, document_id)


@router.get("/{document_id}/{fmt}")
async def download(document_id: UUID, fmt: Literal["docx", "pdf"], actor: CurrentActor,
                   documents: Documents, nc: Bus, token: Token) -> Response:
    """A document naming registry persons is rendered again with the names the registry gives
    the downloading user now: one it refuses gets the refusal, an erased person ends in 410."""
    wanted = await asyncio.to_thread(documents.people_to_name, actor, document_id)
    try:
        names = await fetch_people(nc, token, wanted)
    except DomainError as exc:
        if exc.code != "PERSON_NOT_FOUND":
            raise
        raise await asyncio.to_thread(documents.personal_data_erased, actor, document_id) from exc
    content, meta = await asyncio.to_thread(documents.document_file, actor, document_id, fmt, names)
    name = f"{meta['kind']}-{meta['number']}.{fmt}"
    return Response(content, media_type=DOCX_TYPE if fmt == "docx" else "application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-SHA256": meta["content_sha256"]})
