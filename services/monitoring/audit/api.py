"""HTTP routes of the audit log (auditors and the region): each translates a request into one
call on ``AuditService``, where rights are decided. An export comes back as a file, removed
once sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from services.monitoring.application import AuditService, remove_export
from services.monitoring.audit.checked import Checked
from shared.web import CurrentActor


async def audit_service(request: Request) -> AuditService:
    return request.app.state.monitoring.audit_service


Audit = Annotated[AuditService, Depends(audit_service)]
router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
def verify(actor: CurrentActor, service: Audit) -> dict[str, Any]:
    return service.verify(actor)


def verified(response: Response, checked: Checked) -> None:
    """Whether the log was intact up to what the answer shows (headers: no schema change)."""
    response.headers["X-Audit-Verified"] = "yes" if checked.ok else "no"
    response.headers["X-Audit-Verified-Up-To"] = str(checked.up_to)


@router.get("/trail/{record_id}")
def trail(record_id: str, actor: CurrentActor, service: Audit,
          response: Response) -> list[dict[str, Any]]:
    items, checked = service.checked_trail(actor, record_id)
    verified(response, checked)
    return items


@router.get("/replay")
def replay(actor: CurrentActor, service: Audit, response: Response,
           as_of: Annotated[str, Query(description="Дата или момент (UTC)")],
           org: str | None = None,
           basis: Annotated[str | None, Query(description=(
               "shown — какими цифры были показаны на дату (записи, внесённые до неё); known — "
               "какими они были на дату по тому, что известно сегодня (по датам событий)"))] = None,
           ) -> dict[str, Any]:
    result, checked = service.checked_replay(actor, as_of, org, basis)
    verified(response, checked)
    return result


@router.get("/export")
async def export(actor: CurrentActor, service: Audit,
                 from_: Annotated[str | None, Query(alias="from")] = None,
                 to: str | None = None) -> FileResponse:
    out, head = await service.export(actor, from_, to)
    return FileResponse(out, media_type="application/x-ndjson", filename=out.name,
                        headers={"X-Audit-Head-Size": str(head.size)},
                        background=BackgroundTask(remove_export, out.parent))


@router.post("/heads", status_code=201)
async def sign_head(actor: CurrentActor, service: Audit) -> dict[str, Any]:
    """Sign a head now: the service's loop signs, appends it to the heads file and publishes
    it on NATS, as with its periodic heads. For the region's operator, not for auditors."""
    return await service.sign_head(actor)


@router.get("/public-key")
def public_key(actor: CurrentActor, service: Audit) -> dict[str, Any]:
    return service.public_key(actor)
