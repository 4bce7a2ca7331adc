"""Request/reply over NATS: a unit's dashboard, for a service that prints its figures.

The documents service fills an information-analytic report from the monitoring figures; asking
here (rather than keeping a copy of the counts) means a report holds exactly what the dashboard
shows. It asks for the acting user in claims it signs (``shared.claims``), and the answer is
scoped exactly as ``GET /monitoring/dashboard?org=`` is: the same call on the service.

Route:    ``shared.contracts.DASHBOARD`` (served with ``shared.rpc.serve``)
Request:  ``{"actor": {...}, "actor_signature": hex, "org": str | null, "period": str | null}``
          (null: the actor's own unit; the latest school year)
Reply:    ``{"dashboard": {...}}`` — the body of ``GET /monitoring/dashboard`` —
          or ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from services.monitoring.application import MonitoringService
from shared import rpc
from shared.auth import Actor
from shared.contracts import DASHBOARD
from shared.errors import DomainError
from shared.logging import get_logger

log = get_logger(__name__)


def answer_dashboard(service: MonitoringService, actor: Actor, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (blocking: reads the dashboard tables)."""
    org = request.get("org")
    period = request.get("period")
    if (org is not None and not isinstance(org, str)) or \
            (period is not None and not isinstance(period, str)):
        raise DomainError("INVALID_REQUEST", "Неверный путь организации или период", 422)
    dashboard = service.dashboard(actor, org, period=period)
    log.info("monitoring.dashboard_served", actor=actor.user, scope=dashboard["scope"])
    return {"dashboard": dashboard}


async def serve_dashboards(nc: Client, service: MonitoringService) -> Subscription:
    """Start answering on ``DASHBOARD``; the subscription ends when the connection drains."""
    return await rpc.serve(nc, DASHBOARD, lambda actor, request: answer_dashboard(service, actor, request))
