"""HTTP routes of the bell: one's own notifications, the unread count, marking them read."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.monitoring.notifications.application import Notifications
from shared.web import CurrentActor

router = APIRouter(prefix="/monitoring/notifications", tags=["notifications"])


async def notifications_service(request: Request) -> Notifications:
    return request.app.state.monitoring.notifications


Service = Annotated[Notifications, Depends(notifications_service)]


class ReadMarks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: None: every notification of the reader.
    ids: list[UUID] | None = None


@router.get("")
def my_notifications(actor: CurrentActor, service: Service) -> dict[str, Any]:
    """The reader's latest notifications (newest first) and how many are unread."""
    return service.mine(actor)


@router.get("/unread")
def unread(actor: CurrentActor, service: Service) -> dict[str, int]:
    return {"unread": service.unread(actor)}


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report_id: str = Field(max_length=300)


@router.post("/remind")
def remind(body: Reminder, actor: CurrentActor, service: Service) -> dict[str, bool]:
    """«Напомнить»: a late report's receiver reminds the ones who owe it (once a day)."""
    return {"reminded": service.remind(actor, body.report_id)}


@router.post("/read")
def mark_read(body: ReadMarks, actor: CurrentActor, service: Service) -> dict[str, int]:
    return {"marked": service.mark_read(actor, body.ids)}
