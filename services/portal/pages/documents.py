"""An organisation's documents (orders, reports, certificates) and their DOCX/PDF files, as the
documents service issued them. The roadmap has a page group of its own (``roadmaps.py``).

URLs: ``/organisations/{id}/documents``, ``/files/{document_id}/{docx|pdf}``.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import Request, Response

from services.portal.frame import Signed, page_router, render

router = page_router()


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

