"""The roadmap in the portal: each item's due dates and the next deadline, what is due soon or
overdue, and a curator marking an item in progress or done with a document as evidence.

The documents service keeps the roadmap and decides
(``PUT /documents/roadmaps/{id}/items/{item}``): «done» needs an issued document as evidence,
«overdue» is set by its own clock only. The portal reads the same rule from today's date (an
item not done past its first due date is late), so a late item shows so before the service's
next sweep has marked it.

An uploaded roadmap is shown for review first (issue 22): the parse as an editable table, what
the parser was unsure of marked; only the confirmed review is tracked.

URLs: ``/roadmap`` (the user's own), ``/organisations/{id}/roadmap`` (the page and the upload of a
roadmap, answered with its review), ``/organisations/{id}/roadmap/review`` (the confirmation),
``/organisations/{id}/roadmap/{roadmap_id}/items/{item_id}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import json
import re
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
            "done": sum(i["status"] == "done" for i in items),
            **deadline_counts(items)}


def deadline_counts(items: list[dict[str, Any]]) -> dict[str, int]:
    """Deadlines done of all deadlines: a recurring item counts each of its dates (a year done
    shows as done though its item stays open); an item without dates counts once."""
    marks = [s["status"] for i in items for s in i.get("due_statuses") or [{"status": i["status"]}]]
    return {"deadlines": len(marks), "deadlines_done": marks.count("done")}


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
    confirmed = next((r for r in roadmaps if r["id"] == request.query_params.get("confirmed")), None)
    message = saved_message(item) if item else confirmed_message(confirmed) if confirmed else None
    return render(request, "roadmap.html", roadmaps=roadmaps, error=request.query_params.get("error"),
                  message=message, **context)


def confirmed_message(roadmap: dict[str, Any]) -> str:
    corrected = sum(bool(i.get("corrected")) for i in roadmap["items"])
    return (f"Дорожная карта сохранена: мероприятий — {len(roadmap['items'])}, "
            f"исправлено при проверке — {corrected}. Сроки отслеживаются.")


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
    """An uploaded roadmap is not tracked yet: its parse is shown for review (``review_page``)."""
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    name = file.filename or "roadmap.docx"
    page = f"/organisations/{organisation_id}/roadmap"
    if len(data) > REVIEW_MAX_BYTES:
        return see_other(request, page + "?error=" + quote(
            f"Файл больше {REVIEW_MAX_BYTES // (1024 * 1024)} МБ: сохраните дорожную карту "
            "без рисунков и загрузите снова"))
    try:
        preview = await s.api.post("/documents/roadmaps/preview", data={"org": org["path"]},
                                   files={"file": (name, data)})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return see_other(request, page + "?error=" + quote(exc.message))
    return review_page(request, s, org, preview, name, data)


def review_page(request: Request, s: Session, org: dict[str, Any], preview: dict[str, Any],
                name: str, data: bytes, values: dict[int, dict[str, str]] | None = None,
                errors: dict[int, str] | None = None, message: str | None = None,
                status: int = 200) -> Response:
    """The parse as an editable table: what the parser was unsure of is marked with its reason.

    The file travels with the form (base64), so the confirmation sends the documents service
    the very file that was reviewed; the service parses it again and records the changes."""
    items = []
    for n, item in enumerate(preview["items"], 1):
        unsure: dict[str, list[str]] = {}
        for doubt in item.get("unsure") or []:
            unsure.setdefault(REVIEW_FIELD_OF.get(doubt["field"], doubt["field"]), []).append(
                doubt["message"])
        given = (values or {}).get(n) or {
            "activity": item["activity"], "due": format_dates(item["due_dates"]),
            "responsible": item.get("responsible") or "", "result": item.get("result") or ""}
        items.append({**item, "n": n, "values": given, "unsure": unsure,
                      "error": (errors or {}).get(n)})
    return render(request, "roadmap_review.html", status=status, actor=s.actor, org=org,
                  preview=preview, sections=sections(items), file_name=name,
                  file_data=base64.b64encode(data).decode("ascii"), message=message,
                  unsure_count=sum(bool(i["unsure"]) for i in items),
                  has_results=any(i.get("result") for i in items))


#: The review form's field for each field the documents service may be unsure of.
REVIEW_FIELD_OF = {"due_dates": "due", "activity": "activity", "responsible": "responsible",
                   "result": "result"}
REVIEW_INPUTS = ("activity", "due", "responsible", "result")
#: The reviewed file comes back base64 in the form: a third larger, within the portal's limit.
REVIEW_MAX_BYTES = 7 * 1024 * 1024
DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def format_dates(days: list[str]) -> str:
    return ", ".join(datetime.date.fromisoformat(d).strftime("%d.%m.%Y") for d in days)


def parse_dates(text: str) -> list[str]:
    """«01.10.2025, 15.12.2025» as ISO dates; a date not so written is refused in Russian."""
    found = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;]", text))):
        match = DAY.match(part)
        try:
            if match is None:
                raise ValueError
            day = datetime.date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            raise ValueError(f"Срок «{part}» не похож на дату: пишите дд.мм.гггг, "
                             "несколько сроков — через запятую") from None
        found.append(day.isoformat())
    return sorted(set(found))


@router.post("/organisations/{organisation_id}/roadmap/review")
async def roadmap_confirm(request: Request, organisation_id: UUID, s: Signed) -> Response:
    """The reviewed items, corrected, go to the documents service with the same file: only now
    is the roadmap tracked. A date not understood shows the table again with the user's text."""
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    page = f"/organisations/{organisation_id}/roadmap"
    form = await request.form(max_part_size=REVIEW_MAX_BYTES * 4 // 3 + 4096, max_fields=20_000)
    name = str(form.get("file_name") or "roadmap.docx")
    try:
        data = base64.b64decode(str(form.get("file_data") or ""), validate=True)
    except binascii.Error:
        data = b""
    if not data:
        return see_other(request, page + "?error=" + quote(
            "Проверенный файл не получен: загрузите дорожную карту заново"))
    try:
        preview = await s.api.post("/documents/roadmaps/preview", data={"org": org["path"]},
                                   files={"file": (name, data)})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return see_other(request, page + "?error=" + quote(exc.message))
    values = {n: {key: str(form.get(f"{key}-{n}") or "").strip() for key in REVIEW_INPUTS}
              for n in range(1, len(preview["items"]) + 1)}
    errors: dict[int, str] = {}
    items = []
    for n, item in enumerate(preview["items"], 1):
        given = values[n]
        try:
            due = parse_dates(given["due"])
        except ValueError as exc:
            errors[n], due = str(exc), []
        if not given["activity"]:
            errors[n] = "Укажите мероприятие"
        items.append({"section": item.get("section"), "activity": given["activity"],
                      "due_dates": due, "continuous": item.get("continuous", False),
                      "responsible": given["responsible"] or None,
                      "result": given["result"] or None})
    if errors:
        return review_page(request, s, org, preview, name, data, values, errors, status=422,
                           message="Исправьте отмеченные строки: дорожная карта ещё не сохранена")
    review = json.dumps({"content_sha256": preview["content_sha256"], "items": items})
    try:
        roadmap = await s.api.post("/documents/roadmaps/reviewed",
                                   data={"org": org["path"], "review": review},
                                   files={"file": (name, data)})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return review_page(request, s, org, preview, name, data, values, status=exc.status,
                           message=exc.message)
    return see_other(request, f"{page}?confirmed={roadmap['id']}")


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
