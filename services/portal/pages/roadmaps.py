"""The roadmap in the portal: each item's due dates and the next deadline, what is due soon or
overdue, and a curator marking an item in progress or done with a document as evidence.

The documents service keeps the roadmap and decides
(``PUT /documents/roadmaps/{id}/items/{item}``): «done» needs an issued document as evidence,
«overdue» is set by its own clock only. The portal reads the same rule from today's date (an
item not done past its first due date is late), so a late item shows so before the service's
next sweep has marked it.

URLs: ``/roadmap`` (the user's own), ``/organisations/{id}/roadmap`` (the page and the upload of a roadmap),
``/organisations/{id}/roadmap/{roadmap_id}/items/{item_id}``.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import File, Form, Path, Request, Response, UploadFile

from services.portal.client import ApiError
from services.portal.frame import Session, Signed, htmx, page_router, render, see_other
from services.portal.lookups import date_today, own_organisation
from services.portal.templating import templates
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.uploads import MAX_UPLOAD_BYTES

router = page_router()
#: An item is «due soon» this many days ahead: the documents service's first reminder.
DUE_SOON_DAYS = 14
ITEM_STATUSES = {"planned": "запланировано", "in_progress": "выполняется", "done": "выполнено",
                 "overdue": "просрочено"}
#: What a curator may set; «overdue» is the service's to set.
SETTABLE_STATUSES = {"in_progress": "выполняется", "done": "выполнено"}
templates.env.globals.update(item_statuses=ITEM_STATUSES, settable_statuses=SETTABLE_STATUSES,
                             due_soon_days=DUE_SOON_DAYS)


def days_phrase(days: int) -> str:
    """How far a due date is, as said in Russian: «сегодня», «завтра», «через 5 дней»."""
    if days == 0:
        return "сегодня"
    if days == 1:
        return "завтра"
    if days % 10 == 1 and days % 100 != 11:
        word = "день"
    elif days % 10 in (2, 3, 4) and days % 100 not in (12, 13, 14):
        word = "дня"
    else:
        word = "дней"
    return f"через {days} {word}"


def item_view(item: dict[str, Any], today: datetime.date) -> dict[str, Any]:
    """The item with what the page shows of its dates: the next due date, late or due soon.

    An annual item is done year by year: each due date has its own status (``due_statuses``),
    so a 2022 deadline done leaves the 2023 one open, and only an open date past can be late."""
    due = sorted(datetime.date.fromisoformat(d) for d in item.get("due_dates") or [])
    statuses = item.get("due_statuses") or [{"due_date": d.isoformat(), "status": item["status"]}
                                            for d in due]
    open_dates = sorted(datetime.date.fromisoformat(s["due_date"]) for s in statuses
                        if s["status"] != "done")
    missed = [d for d in open_dates if d < today]
    upcoming = [d for d in open_dates if d >= today]
    next_due = upcoming[0] if upcoming else None
    late = bool(missed) or item["status"] == "overdue"
    days_left = (next_due - today).days if next_due else None
    # «до 15.09.2025» says its date already; «октябрь 2025 г.» gets the date it was read as.
    text = item.get("deadline_text") or ""
    dates_said = all(f"{d:%d.%m.%Y}" in text for d in due)
    return {**item, "due": due, "dates_said": dates_said, "next_due": next_due,
            "days_left": days_left, "late": late, "late_since": missed[0] if missed else None,
            "soon": not late and days_left is not None and days_left <= DUE_SOON_DAYS}


def roadmap_view(roadmap: dict[str, Any], today: datetime.date) -> dict[str, Any]:
    """The roadmap with its items' views and the next deadline of the items not yet done."""
    items = [item_view(i, today) for i in roadmap["items"]]
    dates = [i["next_due"] for i in items if i["next_due"]]
    next_due = min(dates) if dates else None
    return {**roadmap, "items": items, "next_due": next_due, "sections": sections(items),
            "has_results": any(i.get("result") for i in items),
            "next_items": [i for i in items if i["next_due"] == next_due] if next_due else [],
            "late": sum(i["late"] for i in items), "soon": sum(i["soon"] for i in items),
            "done": sum(i["status"] == "done" for i in items)}


async def load_roadmap(s: Session, roadmap_id: UUID | str, org: dict[str, Any]) -> dict[str, Any]:
    roadmap = await s.api.get(f"/documents/roadmaps/{roadmap_id}")
    if roadmap["path"] != org["path"]:
        raise DomainError("ROADMAP_NOT_FOUND", "Дорожная карта не найдена", 404)
    return dict(roadmap)


def section_context(s: Session, org: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, Any]:
    """What a roadmap's section shows besides the roadmap. The evidence offered is the roadmap's
    own organisation's documents only: ``under`` also lists those of the units beneath it."""
    own = [d for d in documents if d.get("path", org["path"]) == org["path"]]
    return {"actor": s.actor, "org": org, "today": datetime.date.fromisoformat(date_today()),
            "can_write": s.actor.can_write(OrgPath.parse(org["path"])),
            "documents": sorted(own, key=lambda d: (d["date"], d["number"]), reverse=True),
            "documents_by_id": {d["id"]: d for d in documents}}


def sections(items: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """The items under their section headings, in the document's order (a heading once, where
    its first item is; items before any heading have none)."""
    grouped: list[tuple[str | None, list[dict[str, Any]]]] = []
    for item in items:
        heading = item.get("section") or None
        if not grouped or grouped[-1][0] != heading:
            grouped.append((heading, []))
        grouped[-1][1].append(item)
    return grouped


@router.get("/organisations/{organisation_id}/roadmap")
async def roadmap_page(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    listed, documents = await asyncio.gather(s.api.get("/documents/roadmaps", under=org["path"]),
                                             s.api.get("/documents", under=org["path"]))
    context = section_context(s, org, documents)
    roadmaps = [roadmap_view(r, context["today"]) for r in await asyncio.gather(
        *(s.api.get(f"/documents/roadmaps/{r['id']}") for r in listed))]
    # After a plain form (no script), what was saved: the page says it as htmx's answer does.
    saved, roadmap = request.query_params.get("saved"), request.query_params.get("roadmap")
    item = next((i for r in roadmaps if r["id"] == roadmap for i in r["items"] if i["id"] == saved), None)
    return render(request, "roadmap.html", roadmaps=roadmaps, error=request.query_params.get("error"),
                  message=saved_message(item) if item else None, **context)


def saved_message(item: dict[str, Any]) -> str:
    return f"Сохранено: «{shorten(item['activity'])}» — {ITEM_STATUSES.get(item['status'], item['status'])}."


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


templates.env.filters["shorten"] = shorten
templates.env.globals.update(days_phrase=days_phrase)


@router.get("/roadmap")
async def own_roadmap(request: Request, s: Signed) -> Response:
    """The menu's «Дорожная карта»: the roadmap of the user's own municipality or region."""
    org = await own_organisation(s)
    return see_other(request, f"/organisations/{org['id']}/roadmap")


@router.post("/organisations/{organisation_id}/roadmap")
async def roadmap_upload(request: Request, organisation_id: UUID, s: Signed,
                         file: Annotated[UploadFile, File()]) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        await s.api.post("/documents/roadmaps", data={"org": org["path"]},
                         files={"file": (file.filename or "roadmap.docx", data)})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return see_other(request, f"/organisations/{organisation_id}/roadmap?error=" + quote(exc.message))
    return see_other(request, f"/organisations/{organisation_id}/roadmap")


@router.post("/organisations/{organisation_id}/roadmap/{roadmap_id}/items/{item_id}")
async def update_item(request: Request, organisation_id: UUID, roadmap_id: UUID,
                      item_id: Annotated[str, Path(pattern=r"^\d{1,6}$")], s: Signed,
                      status: Annotated[Literal["in_progress", "done"], Form()],
                      evidence_document_id: Annotated[UUID | None, Form()] = None) -> Response:
    """An item in progress, or done with its evidence: the documents service's own endpoint."""
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    await load_roadmap(s, roadmap_id, org)
    page = f"/organisations/{organisation_id}/roadmap"
    error = None
    try:
        await s.api.put(f"/documents/roadmaps/{roadmap_id}/items/{item_id}", json={
            "status": status,
            "evidence_document_id": str(evidence_document_id) if evidence_document_id else None})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        if not htmx(request):
            return see_other(request, page + "?error=" + quote(exc.message))
        error = exc
    if not htmx(request):
        return see_other(request, f"{page}?saved={item_id}&roadmap={roadmap_id}")
    # htmx swaps the roadmap's section and says what happened in the page's live region.
    roadmap, documents = await asyncio.gather(load_roadmap(s, roadmap_id, org),
                                              s.api.get("/documents", under=org["path"]))
    context = section_context(s, org, documents)
    view = roadmap_view(roadmap, context["today"])
    item = next((i for i in view["items"] if i["id"] == item_id), None)
    message = error.message if error else saved_message(item) if item else None
    return render(request, "_roadmap.html", status=error.status if error else 200, r=view,
                  message=message, failed=item_id if error else None, oob=True, chosen_status=status,
                  chosen_evidence=str(evidence_document_id) if evidence_document_id else "", **context)
