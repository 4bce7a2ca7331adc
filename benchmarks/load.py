"""Loading a region into the running system the way its people would: through the public API.

The region comes from the demo generator (``services.demo``), deterministic for a seed: the
registry's bulk import takes each organisation's people as one CSV file, and the school year of
the chosen municipalities (pairs, meetings, feedback, goals, surveys) is played by many clients
at once. Loading ends when the monitoring service has every stored event in its audit log and
dashboards.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from benchmarks.system import SECRET, System
from services.demo import RegionPlan, register_region, token_issuer
from services.demo_activity import ActivityLoader, Clients

SEED = 2025


@dataclass
class Loaded:
    plan: RegionPlan
    counts: Counter[str]
    registry_seconds: float
    activity_seconds: float
    settle_seconds: float
    stored: dict[str, int]
    cpu_seconds: dict[str, float]
    #: municipality code -> registry id
    municipalities: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.registry_seconds + self.activity_seconds + self.settle_seconds

    def summary(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 1), "registry_seconds": round(self.registry_seconds, 1),
                "activity_seconds": round(self.activity_seconds, 1),
                "settle_seconds": round(self.settle_seconds, 1), "people": self.plan.people,
                "municipalities": len(self.plan.municipalities), **dict(self.counts),
                "events": sum(self.stored.values()), "events_by_service": self.stored,
                "cpu_seconds": {k: round(v, 1) for k, v in self.cpu_seconds.items()}}


def token_for() -> Callable[[str], str]:
    """Tokens of the region's operator, a municipality's specialist, a school's curator."""
    return token_issuer(SimpleNamespace(signing_secret=SECRET))


def load(system: System, plan: RegionPlan, activity_schools: int, workers: int = 8,
         progress: Callable[[str], None] | None = None) -> Loaded:
    """Register ``plan`` and play the school year of its first ``activity_schools`` schools.

    Every command of the year is one API call (a pair's year is about 30: meetings, feedback,
    goals, surveys), and each costs the pairing and monitoring services several milliseconds
    of CPU: a whole region's year would take hours, so a sample of schools plays it.
    """
    clients = Clients(system.routes, token_for(), pool=workers * 2)
    cpu_before = system.cpu_seconds()
    try:
        started = time.perf_counter()
        counts, schools = register_region(clients, plan, progress)
        registry_seconds = time.perf_counter() - started
        started = time.perf_counter()
        loader = ActivityLoader(clients, plan.code, SEED, plan.today, progress)
        counts.update(loader.play(schools[:activity_schools], workers))
        counts["schools_with_activity"] = min(activity_schools, len(schools))
        activity_seconds = time.perf_counter() - started
        started = time.perf_counter()
        stored = system.wait_quiet()
        settle_seconds = time.perf_counter() - started
        organisations = clients(plan.code).get("/registry/organisations").raise_for_status().json()
    finally:
        clients.close()
    cpu_after = system.cpu_seconds()
    return Loaded(plan, counts, registry_seconds, activity_seconds, settle_seconds, stored,
                  {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after},
                  {o["code"]: o["id"] for o in organisations if o["kind"] == "municipality"})
