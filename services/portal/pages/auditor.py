"""The auditor's page: verifying the hash-chained audit log and one record's whole trail, told
in Russian (``trail_text.py``). History as of a date is the dashboards' ``as_of``; its
territory is chosen from the organisations the registry lists.

URLs: ``/auditor``, ``/auditor/verify``, ``/auditor/trail?record=…``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Query, Request, Response

from services.portal.frame import Session, Signed, page_router, render
from services.portal.trail_text import trail_lines
from shared.errors import DomainError

router = page_router()


def territory_choices(organisations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The organisations as a list to choose from: each under its parent, indented by depth."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    ids = {o["id"] for o in organisations}
    for org in organisations:
        parent = org.get("parent_id") if org.get("parent_id") in ids else None
        children.setdefault(parent, []).append(org)
    ordered: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for org in sorted(children.get(parent, []), key=lambda o: o["name"]):
            ordered.append({**org, "depth": depth, "label": "\u2003" * depth + org["name"]})
            walk(org["id"], depth + 1)

    walk(None, 0)
    return ordered


async def organisation_names(s: Session) -> tuple[list[dict[str, Any]], dict[str, str]]:
    organisations = await s.api.get("/registry/organisations")
    return organisations, {o["path"]: o["name"] for o in organisations}


@router.get("/auditor")
async def auditor_page(request: Request, s: Signed) -> Response:
    organisations, _ = await organisation_names(s)
    return render(request, "auditor.html", actor=s.actor, territories=territory_choices(organisations))


@router.get("/auditor/verify")
async def auditor_verify(request: Request, s: Signed) -> Response:
    result = await s.api.get("/audit/verify")
    return render(request, "_verify.html", actor=s.actor, result=result)


@router.get("/auditor/trail")
async def auditor_trail(request: Request, s: Signed,
                        record: Annotated[str, Query(max_length=64)]) -> Response:
    record = record.strip()
    try:
        UUID(record)
    except ValueError as exc:
        raise DomainError("INVALID_ID", "Неверный идентификатор записи: скопируйте его со страницы "
                          "записи (32 шестнадцатеричных знака с дефисами)", 422) from exc
    entries, (_, names) = await asyncio.gather(s.api.get(f"/audit/trail/{quote(record)}"),
                                               organisation_names(s))
    return render(request, "trail.html", actor=s.actor, record=record, lines=trail_lines(entries, names),
                  total=len(entries))
