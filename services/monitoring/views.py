"""Read models of the monitoring service, as the service layer queries them.

The dashboards' tables (counts per scope and the fold's state) are written by the projector in
``dashboards``; here they are only read, on the reader engine, so a long query never holds the
writers' lock. The region's reporting calendar, as the region configured it, is a table of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa

from services.monitoring.calendar import CalendarConfig
from services.monitoring.dashboards import (
    counts_table,
    pair_members,
    pair_record,
    read_scope,
    state_table,
)
from services.monitoring.schedule import padded_month_day

calendar_metadata = sa.MetaData()
calendar_configs = sa.Table(
    "monitoring_calendar_config", calendar_metadata,
    sa.Column("region", sa.String(100), primary_key=True),
    sa.Column("config", sa.LargeBinary, nullable=False),
)


class CalendarConfigs:
    """The calendar each region configured (one row per region)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        calendar_metadata.create_all(engine)

    def get(self, region: str) -> CalendarConfig | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(calendar_configs.c.config).where(
                calendar_configs.c.region == region)).scalar()
        return CalendarConfig.model_validate(_padded(orjson.loads(value))) if value else None

    def put(self, config: CalendarConfig) -> None:
        data = orjson.dumps(config.model_dump(mode="json"))
        with self.engine.begin() as conn:
            updated = conn.execute(calendar_configs.update().where(
                calendar_configs.c.region == config.region).values(config=data))
            if updated.rowcount == 0:
                conn.execute(calendar_configs.insert().values(region=config.region, config=data))


def _padded(config: dict[str, Any]) -> dict[str, Any]:
    """A saved calendar with its deadlines as ``MM-DD``, however they were saved: one saved
    before the form was strict (``5-31``) would otherwise fail every read of the calendar."""
    for schedule in (config.get("levels") or {}).values():
        for deadline in schedule.get("deadlines", []):  # saved as {due, period}
            if isinstance(deadline, dict) and isinstance(deadline.get("due"), str):
                deadline["due"] = padded_month_day(deadline["due"])
    return config


class DashboardViews:
    """Reads of the dashboard tables: one indexed lookup each, whatever the size of the log."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def is_known(self, scope: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(state_table.c.key).where(
                state_table.c.kind == "org", state_table.c.key == scope)).first()
        return found is not None

    def names(self, scopes: list[str]) -> dict[str, str]:
        if not scopes:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(state_table.c.key, state_table.c.value).where(
                state_table.c.kind == "org", state_table.c.key.in_(scopes)))
            return {key: orjson.loads(value)["name"] for key, value in rows}

    def scope_counts(self, scope: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """A scope's counts and the headline counts of the units directly under it."""
        with self.engine.connect() as conn:
            return read_scope(conn, scope)

    def counts_with_units(self, scope: str, metrics: Sequence[str]
                          ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """A scope's counts and ``metrics`` of each unit directly under it (``disclosure``)."""
        with self.engine.connect() as conn:
            own = {r.metric: float(r.value) for r in conn.execute(
                sa.select(counts_table.c.metric, counts_table.c.value)
                .where(counts_table.c.scope == scope))}
            units: dict[str, dict[str, float]] = {}
            for r in conn.execute(sa.select(counts_table.c.scope, counts_table.c.metric,
                                            counts_table.c.value)
                                  .where(counts_table.c.parent == scope,
                                         counts_table.c.metric.in_(list(metrics)))):
                units.setdefault(r.scope, {})[r.metric] = float(r.value)
        return own, units

    def pair_members(self, pair_id: UUID) -> tuple[str, list[str]] | None:
        with self.engine.connect() as conn:
            return pair_members(conn, pair_id)

    def pair_record(self, pair_id: UUID) -> tuple[str, list[str], str | None] | None:
        with self.engine.connect() as conn:
            return pair_record(conn, pair_id)

    def fold_state(self, wanted: dict[str, set[str]]) -> list[tuple[str, str, Any]]:
        """(kind, key, decoded value) of the fold-state rows asked for by exact key."""
        found: list[tuple[str, str, Any]] = []
        with self.engine.connect() as conn:
            for kind, keys in wanted.items():
                if not keys:
                    continue
                rows = conn.execute(sa.select(state_table.c.key, state_table.c.value).where(
                    state_table.c.kind == kind, state_table.c.key.in_(sorted(keys))))
                found += [(kind, key, orjson.loads(value)) for key, value in rows]
        return found
