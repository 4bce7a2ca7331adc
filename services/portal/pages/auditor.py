"""The auditor's page: verifying the hash-chained audit log and one record's whole trail.
(History as of a date is the dashboards' ``as_of``.)

URLs: ``/auditor``, ``/auditor/verify``, ``/auditor/trail?record=…``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request, Response

from services.portal.frame import Signed, page_router, render

router = page_router()


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
