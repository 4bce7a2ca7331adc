"""Request/reply over NATS: a unit's dashboard, for a service that prints its figures.

The documents service fills an information-analytic report from the monitoring figures; asking
here (rather than keeping a copy of the counts) means a report holds exactly what the dashboard
shows. It forwards the acting user's token, and the answer is scoped exactly as
``GET /monitoring/dashboard?org=`` is: the same check of the actor and the same function.

Request:  ``{"token": str, "org": str | null}`` (null: the actor's own unit)
Reply:    ``{"dashboard": {...}}`` — the body of ``GET /monitoring/dashboard`` —
          or ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.errors import DomainError
from shared.logging import get_logger
from shared.tokens import actor_from_token

if TYPE_CHECKING:
    from services.monitoring.runtime import MonitoringRuntime

log = get_logger(__name__)

DASHBOARD_SUBJECT = "nastavnik.rpc.monitoring.dashboard"
DASHBOARD_QUEUE = "monitoring-dashboard"


def _error(exc: DomainError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}


def answer_dashboard(runtime: MonitoringRuntime, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (blocking: reads the dashboard tables)."""
    # Imported here so a caller importing only the subject does not load the dashboards.
    from services.monitoring.api import dashboard_of, readable_scope

    try:
        actor = actor_from_token(str(request.get("token", "")), runtime.settings.signing_secret)
        org = request.get("org")
        if org is not None and not isinstance(org, str):
            raise DomainError("INVALID_REQUEST", "Неверный путь организации", 422)
        dashboard = dashboard_of(runtime, readable_scope(actor, org), None)
    except DomainError as exc:
        return _error(exc)
    log.info("monitoring.dashboard_served", actor=actor.user, scope=dashboard["scope"])
    return {"dashboard": dashboard}


async def serve_dashboards(nc: Client, runtime: MonitoringRuntime) -> Subscription:
    """Start answering on ``DASHBOARD_SUBJECT``; the subscription ends when the connection drains."""

    async def handle(message: Msg) -> None:
        try:
            request = json.loads(message.data or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            reply = _error(DomainError("INVALID_REQUEST", "Неверный запрос", 422))
        else:
            reply = await asyncio.to_thread(answer_dashboard, runtime, request)
        await message.respond(json.dumps(reply, ensure_ascii=False).encode())

    return await nc.subscribe(DASHBOARD_SUBJECT, queue=DASHBOARD_QUEUE, cb=handle)
