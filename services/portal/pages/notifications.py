"""The bell: one's notifications (due and overdue reports, pairs, meetings, missing feedback),
the unread count in the header (a fragment the header loads after the page, so no page waits
for it), and marking them read. The monitoring service keeps them (``/monitoring/notifications``).

URLs: ``/notifications``, ``/notifications/bell``, ``/notifications/read``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Form, Request, Response

from services.portal.client import ApiError
from services.portal.frame import Signed, page_router, render, see_other

router = page_router()
API = "/monitoring/notifications"


@router.get("/notifications")
async def notifications(request: Request, s: Signed) -> Response:
    found = await s.api.get(API)
    return render(request, "notifications.html", actor=s.actor, items=found["items"],
                  unread=found["unread"])


@router.get("/notifications/bell")
async def bell(request: Request, s: Signed) -> Response:
    try:
        unread = (await s.api.get(f"{API}/unread"))["unread"]
    except ApiError:
        unread = None  # the link still leads to the page, which says what is wrong
    return render(request, "_bell.html", actor=s.actor, unread=unread)


@router.post("/notifications/read")
async def mark_read(request: Request, s: Signed,
                    notification_id: Annotated[UUID | None, Form()] = None) -> Response:
    ids = [str(notification_id)] if notification_id else None
    await s.api.post(f"{API}/read", json={"ids": ids})
    return see_other(request, "/notifications")
