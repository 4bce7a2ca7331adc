"""HTTP routes of the documents service: each translates a request into one call on the service.

Routes that print names, pairs or figures make the service ask the registry, pairing or
monitoring for the calling user (claims signed by this service, never the user's token), so the
owner of the data decides what that user may see (``application``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from services.documents import templates
from services.documents.application import DocumentsService
from services.documents.commands import (
    AwardOrderIn,
    ConfirmRoadmap,
    ConsentIn,
    CuratorOrderIn,
    DevelopmentPlanIn,
    ImportRoadmap,
    ItemUpdateIn,
    NominationAwardsIn,
    NominationDecisionIn,
    NominationIn,
    PairsOrderIn,
    PracticeIn,
    ReportIn,
    ReportTextIn,
    ReviewIn,
    ThanksLetterIn,
    TrainingMaterialIn,
    parse_path,
)
from shared.uploads import MAX_UPLOAD_BYTES
from shared.web import Context, CurrentActor

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def documents_service(request: Request) -> DocumentsService:
    return request.app.state.documents


Documents = Annotated[DocumentsService, Depends(documents_service)]
router = APIRouter(prefix="/documents", tags=["documents"])


@router.post("/pairs-order", status_code=201)
async def pairs_order(body: PairsOrderIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    """Rights, then the pairs as the pairing service has them (an unknown, foreign, closed or
    misdescribed pair refuses the whole order), then names, then the document."""
    return await documents.issue_pairs_order(ctx, body)


@router.post("/curator-order", status_code=201)
async def curator_order(body: CuratorOrderIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.issue(ctx, "curator_order", body)


@router.post("/award-order", status_code=201)
async def award_order(body: AwardOrderIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.issue(ctx, "award_order", body)


@router.post("/thanks-letter", status_code=201)
async def thanks_letter(body: ThanksLetterIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.issue(ctx, "thanks_letter", body)


@router.post("/consent", status_code=201)
async def consent(body: ConsentIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.issue(ctx, "consent", body)


@router.post("/development-plan", status_code=201)
async def development_plan(body: DevelopmentPlanIn, ctx: Context,
                           documents: Documents) -> dict[str, Any]:
    """A pair's individual development plan: its members, form and goals as pairing has them."""
    return await documents.issue(ctx, "development_plan", body)


@router.post("/report", status_code=201)
async def report(body: ReportIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    """A report issued on demand (one prepared from ``ReportDue`` is submitted below), filled
    from the monitoring dashboard of ``org``."""
    return await documents.issue_report(ctx, body)


@router.get("")
def list_documents(actor: CurrentActor, documents: Documents, under: str | None = None,
                   kind: templates.DocumentKind | None = None) -> list[dict[str, Any]]:
    return documents.list_documents(actor, parse_path(under) if under else None, kind)


# --- roadmaps ------------------------------------------------------------------------------------

@router.post("/roadmaps", status_code=201)
def import_roadmap(ctx: Context, documents: Documents, org: Annotated[str, Form()],
                   file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    upload = ImportRoadmap(org, file.file.read(MAX_UPLOAD_BYTES + 1), file.filename or "")
    return documents.import_roadmap(ctx, upload)


@router.post("/roadmaps/preview")
def preview_roadmap(ctx: Context, documents: Documents, org: Annotated[str, Form()],
                    file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """The parse of the file for the user to review (each item's ``unsure``: what the parser
    was unsure of, with the reason in Russian). Nothing is saved."""
    upload = ImportRoadmap(org, file.file.read(MAX_UPLOAD_BYTES + 1), file.filename or "")
    return documents.preview_roadmap(ctx, upload)


@router.post("/roadmaps/reviewed", status_code=201)
def confirm_roadmap(ctx: Context, documents: Documents, org: Annotated[str, Form()],
                    file: Annotated[UploadFile, File()],
                    review: Annotated[str, Form(description=(
                        "JSON: {content_sha256 (из предпросмотра), items: [{section, activity, "
                        "due_dates, continuous, responsible, result}]} — все мероприятия "
                        "предпросмотра в его порядке, с исправлениями пользователя"))],
                    ) -> dict[str, Any]:
    """Track the roadmap as the user reviewed it: the same file again (its SHA-256 must be the
    previewed one) and every item of the preview, corrected; the corrections are kept with it."""
    upload = ConfirmRoadmap(org, file.file.read(MAX_UPLOAD_BYTES + 1), file.filename or "", review)
    return documents.confirm_roadmap(ctx, upload)


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


@router.put("/roadmaps/{roadmap_id}/items/{item_id}")
def update_item(roadmap_id: UUID, item_id: str, body: ItemUpdateIn, ctx: Context,
                documents: Documents) -> dict[str, Any]:
    """Mark one deadline of an item (a yearly item is done year by year)."""
    return documents.update_item(ctx, roadmap_id, item_id, body)


# --- the bank of best practices ------------------------------------------------------------

@router.post("/practices", status_code=201)
def submit_practice(body: PracticeIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return documents.submit_practice(ctx, body)


@router.post("/practices/{practice_id}/review")
def review_practice(practice_id: UUID, body: ReviewIn, ctx: Context,
                    documents: Documents) -> dict[str, Any]:
    return documents.review_practice(ctx, practice_id, body)


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


# --- «Наставник года» -----------------------------------------------------------------------------

@router.post("/nominations", status_code=201)
async def nominate(body: NominationIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.nominate(ctx, body)


@router.get("/nominations")
def list_nominations(actor: CurrentActor, documents: Documents, under: str | None = None,
                     school_year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")] = None,
                     ) -> list[dict[str, Any]]:
    return documents.list_nominations(actor, parse_path(under) if under else None, school_year)


@router.get("/nominations/winners")
def nomination_winners(actor: CurrentActor, documents: Documents,
                       school_year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")] = None,
                       ) -> list[dict[str, Any]]:
    """Every stage's winners: open to every signed-in user, like the bank of practices."""
    return documents.winners(school_year)


@router.post("/nominations/award-order", status_code=201)
async def nomination_award_order(body: NominationAwardsIn, ctx: Context,
                                 documents: Documents) -> dict[str, Any]:
    return await documents.issue_nomination_order(ctx, body)


@router.post("/nominations/thanks-letters", status_code=201)
async def nomination_thanks_letters(body: NominationAwardsIn, ctx: Context,
                                    documents: Documents) -> list[dict[str, Any]]:
    return await documents.issue_nomination_letters(ctx, body)


@router.get("/nominations/{nomination_id}")
def get_nomination(nomination_id: UUID, actor: CurrentActor, documents: Documents) -> dict[str, Any]:
    return documents.get_nomination(actor, nomination_id)


@router.post("/nominations/{nomination_id}/decision")
def decide_nomination(nomination_id: UUID, body: NominationDecisionIn, ctx: Context,
                      documents: Documents) -> dict[str, Any]:
    return documents.decide_nomination(ctx, nomination_id, body)


# --- «Школа наставников» ---------------------------------------------------------------------------

@router.post("/training/materials", status_code=201)
def publish_material(body: TrainingMaterialIn, ctx: Context, documents: Documents) -> dict[str, Any]:
    return documents.publish_material(ctx, body)


@router.get("/training/materials")
def training_materials(actor: CurrentActor, documents: Documents) -> list[dict[str, Any]]:
    return documents.materials(actor)


@router.post("/training/materials/{material_id}/completed")
def complete_training(material_id: UUID, ctx: Context, documents: Documents) -> dict[str, Any]:
    return documents.complete_training(ctx, material_id)


@router.get("/training/completions")
def training_completions(actor: CurrentActor, documents: Documents) -> list[dict[str, Any]]:
    return documents.completions(actor)


@router.post("/training/completions/{completion_id}/confirm")
async def confirm_training(completion_id: UUID, ctx: Context, documents: Documents) -> dict[str, Any]:
    return await documents.confirm_training(ctx, completion_id)


# --- reports ---------------------------------------------------------------------------------------

@router.get("/reports")
def list_reports(actor: CurrentActor, documents: Documents,
                 under: str | None = None) -> list[dict[str, Any]]:
    return documents.list_reports(actor, parse_path(under) if under else None)


@router.post("/reports/{report_id}/submit")
async def submit_report(report_id: UUID, body: ReportTextIn, ctx: Context,
                        documents: Documents) -> dict[str, Any]:
    """Submit a draft: the report is filled from the dashboard of the draft's unit."""
    return await documents.submit_report(ctx, report_id, body)


# --- one document (after the fixed paths above, which these would otherwise shadow) ---------------

@router.get("/{document_id}")
def get_document(document_id: UUID, actor: CurrentActor, documents: Documents) -> dict[str, Any]:
    return documents.get_document(actor, document_id)


@router.get("/{document_id}/{fmt}")
async def download(document_id: UUID, fmt: Literal["docx", "pdf"], actor: CurrentActor,
                   documents: Documents) -> Response:
    """A document naming registry persons is rendered again with the names the registry gives
    the downloading user now: one it refuses gets the refusal, an erased person ends in 410."""
    content, meta = await documents.download(actor, document_id, fmt)
    name = f"{meta['kind']}-{meta['number']}.{fmt}"
    return Response(content, media_type=DOCX_TYPE if fmt == "docx" else "application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-SHA256": meta["content_sha256"]})
