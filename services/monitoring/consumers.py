"""What the monitoring service takes in: every stream into the audit log (``AuditFeeder``, a
``shared.consumer`` projection with its position committed with the entries), and the audit
log into the dashboards (``DashboardTail``: the projector follows the log, not the streams).

A further read model joins ``projections`` (anything with ``name``, ``sources`` and
``apply(conn, envelopes)``; each gets its own ConsumerRunner and position).
"""

from __future__ import annotations

import asyncio
import gc

from services.monitoring.audit.feeder import AuditFeeder
from services.monitoring.audit.store import AuditStore
from services.monitoring.dashboards import DashboardProjector
from shared.consumer import Projection
from shared.logging import get_logger
from shared.loops import wait_any
from shared.memory import bulk_work

log = get_logger(__name__)


def projections(audit: AuditStore) -> list[Projection]:
    """The stream consumers of the service, each fed by a ConsumerRunner of its own."""
    return [AuditFeeder(audit)]


class DashboardTail:
    """The dashboards follow the audit log: whatever it appended is folded at once.

    The feeder's runner calls ``wake`` after each commit; without one the log is looked at
    every ``fallback`` seconds, for entries appended elsewhere (another replica's feeder), and
    less often while none come, up to ``longest``."""

    def __init__(self, projector: DashboardProjector, fallback: float = 1.0,
                 longest: float = 8.0) -> None:
        self.projector = projector
        self.fallback = fallback
        self.longest = longest
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """The log grew (called on the loop)."""
        self._woken.set()

    def _fold(self) -> int:
        with bulk_work():
            return self.projector.catch_up()

    async def run(self, stop: asyncio.Event) -> None:
        frozen = False
        wait = self.fallback
        while not stop.is_set():
            # Cleared before the fold: an append committed during it wakes the next one.
            self._woken.clear()
            try:
                folded = await asyncio.to_thread(self._fold)
            except Exception as exc:  # noqa: BLE001 - e.g. a locked database: retry from the position
                log.warning("monitoring.dashboards_retry", error=repr(exc))
                folded = 0
                await asyncio.sleep(0.5)
                self._woken.set()
            if not frozen and self.projector.position is not None:
                # The fold's state is loaded (an object per pair: a million for a large region)
                # and lives as long as the process, as do the libraries' objects: out of the
                # cyclic collector's sight, no full collection stops the process to walk them
                # again (100 ms at a 1M-event log, more under load, more with the log). What is
                # garbage already is collected first, so that none is kept for good.
                gc.collect()
                gc.freeze()
                frozen = True
            if not folded:
                await wait_any(stop, self._woken, timeout=wait)
                wait = min(wait * 2, self.longest)
            else:
                wait = self.fallback
