"""Monitoring figures as of any moment, for auditors: from the audit log alone.

The replay is the dashboards' own fold (``services.monitoring.dashboards``) run over the log up to
the moment, in memory — a scratch copy that reads and writes no live table — and rendered by the
same code as the live dashboards. So a replay as of a moment gives exactly the figures a
dashboard showed then, KPIs included.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from services.monitoring.dashboards import replay_as_of
from shared.auth import OrgPath
from shared.localtime import region_zone

from .history import Basis
from .store import AuditStore


def replay_log(store: AuditStore, as_of: datetime, org: OrgPath | None = None,
               settings: Any = None, basis: Basis = "shown") -> dict[str, Any]:
    """The dashboards of ``org`` (of every region in the log when None) as of ``as_of``: as
    they showed then (``shown``) or as true then by what the log knows now (``known``)."""
    replayed = replay_as_of(store, as_of, settings, basis=basis)
    scopes = [org] if org is not None else [OrgPath.parse(r) for r in replayed.regions()]
    return {"as_of": as_of.isoformat(), "basis": basis, "events": replayed.events,
            "dashboards": {str(scope): replayed.dashboard(scope) for scope in scopes}}


def parse_moment(text: str) -> datetime:
    """``2025-12-31`` means the end of that day in the region's time zone (``shared.localtime``);
    a full ISO time is taken as given (UTC when it has no offset)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if len(text.strip()) == 10:  # a bare date
        end = datetime.combine(value.date(), time.max, region_zone())
        return end.astimezone(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
