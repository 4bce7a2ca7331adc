"""Monitoring figures: dashboard rebuild speed, live lag to the regional figure, dashboard query time.

    .venv/bin/python benchmarks/bench_monitoring.py                       # 1M rebuild + lag, 10M dashboard
    .venv/bin/python benchmarks/bench_monitoring.py --dashboard-events 0  # skip the 10M log

* ``rebuild_events_per_s``: ``--events`` entries of a working region (60 municipalities, 2,000
  schools; meetings and feedback dominate, three school years of dates) in a real audit log
  (SQLite), then ``nastavnik monitoring rebuild``'s code folds the whole log into the dashboards.
* ``pipeline_lag_p50_ms`` / ``pipeline_lag_p99_ms``: on that same data folder (the log already
  holds ``--events`` entries and the dashboards are rebuilt), the monitoring service runs as in
  production while a pairing-like service, in a process of its own, stores MeetingHeld events
  at a steady 1,000/s; each event's time from being stored to being counted in its region's
  figure (outbox relay → real nats-server → audit feeder → dashboards tail).
* ``dashboard_p50_ms`` / ``dashboard_p99_ms``: the regional dashboard (counts of the region and
  of its 60 municipalities with their names, rendered with KPIs: the HTTP route's code without
  the HTTP) read ``--queries`` times from a rebuilt read model with ``--dashboard-events``
  entries behind it. ``as_of_*``: the same dashboard as of a date, which folds the log itself.

The logs are filled in bulk (``AuditStore.bulk_load``: large transactions, no duplicate
lookups) from a generator that writes the envelope bytes directly; the first entries are
checked to be exactly what the feeder stores for the same events built as pydantic envelopes,
and the chain is the real one (``nastavnik audit verify`` passes on it). The time to fill is
printed but is not a goal. Prints one line per figure with its goal, then a JSON line.
The default run takes about 25 minutes on 2 cores (most of it filling the 10M log, 11 GB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from eventsourcing.domain import event
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from nats.aio.client import Client
from nats.js import JetStreamContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.monitoring.application import dashboard_of  # noqa: E402 - repo root on sys.path
from services.monitoring.audit.feeder import (  # noqa: E402
    AuditLog,
    audit_envelope,
    init_key,  # noqa: E402
)
from services.monitoring.audit.store import AuditEnvelope, AuditStore  # noqa: E402
from services.monitoring.dashboards import FoldSettings, counts_table  # noqa: E402
from services.monitoring.rebuild import rebuild  # noqa: E402
from services.monitoring.runtime import MonitoringRuntime  # noqa: E402
from services.monitoring.views import DashboardViews  # noqa: E402
from shared.auth import Actor, OrgPath, Role  # noqa: E402
from shared.contracts import Envelope  # noqa: E402
from shared.events import CATALOGUE, public_payload, schema_version  # noqa: E402
from shared.host import create_app  # noqa: E402
from shared.nats_server import EmbeddedNats  # noqa: E402
from shared.relay import OutboxRelay  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.store import CommandContext, EventSourcedAggregate, ServiceApplication, view_engine  # noqa: E402

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
REGION = "demo"
T0 = datetime(2023, 9, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
#: Source positions of the filled log start here, so the live producer's (from 1) are new.
FILL_SOURCE_POSITION = 1_000_000_000

GOALS: dict[str, tuple[str, Any]] = {
    "rebuild_events_per_s": ("≥ 100 000 событий/с на 1 млн", lambda v: v >= 100_000),
    "pipeline_lag_p99_ms": ("< 500 мс при 1000 событий/с и журнале 1 млн", lambda v: v < 500),
    "dashboard_p99_ms": ("< 50 мс при 10 млн событий", lambda v: v < 50),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- a region's log, generated fast ---------------------------------------------------------

def uuid_text(kind: int, n: int, of: int) -> str:
    """The ``n``-th of ``of`` ids of one kind: spread evenly over the whole UUID range, as random
    ids are, yet growing with ``n``, so the log's indexes fill by appending (fast) and a live
    event's random id lands anywhere in them (realistic). Text without a ``uuid.UUID``."""
    h = f"{(n * ((1 << 124) // of)) << 4 | kind:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def region_log(count: int, region: str = REGION, municipalities: int = 60, schools: int = 2000,
               first_source_position: int = FILL_SOURCE_POSITION) -> Iterator[AuditEnvelope]:
    """``count`` audit entries of a working region, as the feeder would store them.

    First the region, its municipalities and schools register; then, school after school, ten
    events at a time: a mentee, a mentor (or a consent), a pair, four meetings and three
    feedbacks of that school's newest and earlier pairs. Dates spread over three school years.
    No personal data.
    """
    step = max(1, int(SPAN.total_seconds()) // max(count, 1))
    scope = {"municipality": None, "organisation": None, "region": region}
    curator = {"role": "curator", "scope": scope, "user": "curator"}
    loader = {"role": "regional", "scope": scope, "user": "loader"}
    positions = {"registry": first_source_position, "pairing": first_source_position}
    decades = count // 10 + 1
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    # Each event in the version the services publish today, as a new region's log holds them.
    versions = {event_type: spec.version for event_type, spec in CATALOGUE.items()}
    n = 0

    def person(k: int) -> str:
        return uuid_text(2, k, 2 * decades)

    def pair(k: int) -> str:
        return uuid_text(3, k, decades)

    def territory(k: int) -> str:
        return uuid_text(4, k, municipalities + 1)

    def entry(source: str, event_type: str, org: tuple[str, str | None, str | None],
              aggregate: str, payload: dict[str, Any], actor: dict[str, Any] = curator) -> AuditEnvelope:
        nonlocal n
        n += 1
        position = positions[source]
        positions[source] = position + 1
        occurred = T0 + timedelta(seconds=n * step)
        event_id = uuid_text(1, n, count + 1)
        # The canonical bytes Envelope.to_bytes() writes (sorted keys, compact, UTF-8).
        data = dumps({
            "actor": actor, "aggregate_id": aggregate, "aggregate_version": 1, "causation_id": None,
            "correlation_id": event_id, "event_id": event_id,
            "occurred_at": occurred.replace(tzinfo=None).isoformat() + "Z",
            "org": {"municipality": org[1], "organisation": org[2], "region": org[0]},
            "payload": payload, "schema_version": versions[event_type], "source": source,
            "source_position": position,
            "type": event_type}, option=sort_keys)
        return AuditEnvelope(data, source, position, event_id, event_type, occurred, aggregate,
                             org[0], org[1], org[2])

    if count:
        yield entry("registry", "OrganisationRegistered", (region, None, None), territory(0),
                    {"code": region, "name": "Регион", "kind": "region", "parent_id": None}, loader)
    for m in range(min(municipalities, count - n)):
        yield entry("registry", "OrganisationRegistered", (region, f"m{m}", None), territory(m + 1),
                    {"code": f"m{m}", "name": f"Муниципалитет {m}", "kind": "municipality",
                     "parent_id": territory(0)}, loader)
    for s in range(min(schools, count - n)):
        yield entry("registry", "OrganisationRegistered", (region, f"m{s % municipalities}", f"s{s}"),
                    uuid_text(5, s, schools), {"code": f"s{s}", "name": f"Школа № {s}", "kind": "school",
                                               "parent_id": territory(1 + s % municipalities)}, loader)
    d = 0
    while n < count:
        s = d % schools
        org = (region, f"m{s % municipalities}", f"s{s}")
        school_id = uuid_text(5, s, schools)
        for k in range(min(10, count - n)):
            if k == 0:
                yield entry("registry", "MenteeRegistered", org, person(2 * d), {
                    "organisation_id": school_id, "category": "student", "grade": 5 + d % 7,
                    "birth_year": 2008 + d % 8, "requests": ["олимпиада"], "minor": True})
            elif k == 1 and d % 2 == 0:
                yield entry("registry", "MentorRegistered", org, person(2 * d + 1), {
                    "organisation_id": school_id, "category": "teacher", "competencies": [],
                    "capacity": 2, "birth_year": 1970 + d % 30, "grade": None})
            elif k == 1:
                yield entry("registry", "ConsentRecorded", org, person(2 * d), {"given_by": "guardian"})
            elif k == 2:  # the mentor registered in this decade or the one before (capacity 2)
                yield entry("pairing", "PairFormed", org, pair(d), {
                    "programme_id": None, "organisation_id": school_id, "form": "учитель – ученик",
                    "mentor_id": person(2 * (d - d % 2) + 1), "mentee_ids": [person(2 * d)],
                    "order_ref": None, "suggested": True, "score": 0.8})
            else:
                back = d - schools * ((k - 3) % 4)  # this school's newest pair or an earlier one
                met_decade = back if back >= 0 else d
                met = pair(met_decade)
                if k <= 6:
                    day = (T0 + timedelta(seconds=(n + 1) * step)).date().isoformat()
                    yield entry("pairing", "MeetingHeld", org, met, {
                        "kind": "regular", "date": day, "duration_minutes": 45,
                        "format": "in_person" if d % 3 else "online", "number": k - 2})
                else:
                    yield entry("pairing", "FeedbackSubmitted", org, met, {
                        "meeting_number": k - 6, "side": "mentee" if k % 2 else "mentor",
                        "satisfaction": 1 + (d + k) % 10,
                        "respondent_id": person(2 * met_decade) if k % 2
                        else person(2 * (met_decade - met_decade % 2) + 1)})
        d += 1


def check_region_log(sample: int = 3000) -> None:
    """The generated entries are what the feeder stores for the same pydantic envelopes."""
    for entry in region_log(sample):
        envelope = Envelope.model_validate_json(entry.data)
        assert envelope.to_bytes() == entry.data, entry.data
        assert envelope.schema_version == schema_version(envelope.type), entry.data
        assert public_payload(envelope.type, envelope.payload) == envelope.payload, entry.data
        assert audit_envelope(envelope) == entry, entry


def fill_log(settings: Settings, events: int) -> float:
    """A new log of ``events`` entries, as fast as SQLite writes: no rollback journal and no
    syncs while filling (a crash would only lose the benchmark's temporary folder)."""
    engine = view_engine(settings, "monitoring")
    init_key(settings, exist_ok=True)  # the explicit step of a deployment
    AuditLog.open(settings, engine)  # the schema, as the service makes it
    engine.dispose()
    path = engine.url.database
    fill = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(fill, "connect")
    def _bulk(dbapi_connection: Any, _record: Any) -> None:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    started = time.perf_counter()
    try:
        assert AuditStore(fill).bulk_load(region_log(events)) == events
        with fill.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # as the services open it
    finally:
        fill.dispose()
    # On disk before the figures are taken: else the kernel writes the fill's gigabytes back
    # while the rebuild runs, and its first sync waits for all of them.
    with open(str(path), "rb+") as file:
        os.fsync(file.fileno())
    return time.perf_counter() - started


# --- rebuild and dashboard ------------------------------------------------------------------

def measure_rebuild(settings: Settings, events: int) -> dict[str, Any]:
    cpu = time.process_time()
    result = rebuild(settings, restart=True)
    cpu = time.process_time() - cpu
    assert result.events == events, (result.events, events)
    # Per second of CPU (both threads) as well: on a shared machine the wall rate is the load's.
    return {"rebuild_events": events, "rebuild_s": round(result.seconds, 2),
            "rebuild_cpu_s": round(cpu, 2), "rebuild_events_per_cpu_s": round(events / cpu),
            "rebuild_events_per_s": round(result.events_per_s)}


def measure_dashboard(settings: Settings, events: int, queries: int = 200,
                      as_of_queries: int = 1) -> dict[str, Any]:
    """The regional dashboard as the HTTP route computes it, ``queries`` times; then as of a
    date one month into the log and as of its last day, ``as_of_queries`` times each."""
    engine = view_engine(settings, "monitoring")
    audit = AuditLog.open(settings, engine)
    views, fold_settings = DashboardViews(engine), FoldSettings()
    region = OrgPath(region=REGION)
    try:
        # Warm: the first query opens the connection.
        dashboard_of(views, audit.store, fold_settings, region, None)
        times = []
        body: dict[str, Any] = {}
        for _ in range(queries):
            started = time.perf_counter()
            body = dashboard_of(views, audit.store, fold_settings, region, None)
            times.append((time.perf_counter() - started) * 1000)
        assert body["meetings"]["held"] > 0 and len(body["units"]) == 60, body["units"][:2]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(counts_table)).scalar()
        result: dict[str, Any] = {
            "dashboard_log_events": events, "dashboard_p50_ms": round(percentile(times, 0.5), 2),
            "dashboard_p99_ms": round(percentile(times, 0.99), 2), "dashboard_queries": queries,
            "read_model_rows": rows}
        step = max(1, int(SPAN.total_seconds()) // max(events, 1))
        last_day = (T0 + timedelta(seconds=events * step)).date().isoformat()
        for name, day in (("as_of_first_month", (T0 + timedelta(days=30)).date().isoformat()),
                          ("as_of_last_day", last_day)):
            as_of_times = []
            for _ in range(as_of_queries):
                started = time.perf_counter()
                folded = dashboard_of(views, audit.store, fold_settings, region, day)
                as_of_times.append(time.perf_counter() - started)
            if as_of_times:
                result[f"{name}_s"] = round(statistics.median(as_of_times), 3)
                result[f"{name}_events"] = folded["events"]
        if as_of_queries:
            # The as-of fold and the read model are the same computation: they must agree.
            assert folded["meetings"] == body["meetings"], "as-of fold differs from the live figure"
        return result
    finally:
        engine.dispose()


# --- live lag -------------------------------------------------------------------------------

class Meeting(EventSourcedAggregate):
    """Stands in for a pair: each event it stores is a ``MeetingHeld`` on the pairing stream."""

    @event("MeetingHeld")
    def __init__(self, kind: str, date: str, duration_minutes: int, format: str,  # noqa: A002
                 number: int, meta: dict[str, Any]) -> None:
        self.number = number


class BenchPairing(ServiceApplication):
    name = "BenchPairing"
    source = "pairing"


class Producer:
    """A service runtime that only relays its store, as the pairing service does."""

    name = "bench-pairing"
    router = APIRouter()

    def __init__(self, settings: Settings) -> None:
        self.store = BenchPairing(settings)
        self.relay: OutboxRelay | None = None
        self.notify = lambda: None

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        loop = asyncio.get_running_loop()
        self.relay = OutboxRelay(self.store, js, 1000, 0.2)
        relay = self.relay
        self.notify = lambda: loop.call_soon_threadsafe(relay.notify)
        return [asyncio.create_task(relay.run(stop))]

    def health(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def produce(data_dir: str, nats_url: str, rate: int, seconds: float, per_tick: int,
            ready: Any, go: Any, out: Any) -> None:
    """The pairing-like service, in its own process as in production: stores ``per_tick``
    MeetingHeld events at a time at ``rate`` per second and sends back (events stored so far,
    monotonic time) after each save."""
    settings = Settings(data_dir=Path(data_dir), token_secret=SECRET, nats_url=nats_url,
                        log_level="WARNING", relay_lease_seconds=0)
    producer = Producer(settings)
    org = OrgPath(region="bench", municipality="m1", organisation="s1")
    ctx = CommandContext(Actor(user="bench", role=Role.CURATOR, scope=org))
    stored_at: list[tuple[int, float]] = []
    with TestClient(create_app(settings, [producer])):
        ready.set()
        go.wait()
        total = 0
        interval = per_tick / rate
        start = time.monotonic()
        for n in range(int(seconds * rate / per_tick)):
            delay = start + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            batch = [Meeting(kind="regular", date="2025-10-01", duration_minutes=45,
                             format="in_person", number=total + i + 1, meta=ctx.meta(org))
                     for i in range(per_tick)]
            producer.store.save(*batch)
            total += per_tick
            stored_at.append((total, time.monotonic()))
            producer.notify()
        out.put((stored_at, total / (time.monotonic() - start)))
        # Stay connected until the monitoring side has seen everything (the relay may lag).
        go.wait()


def measure_lag(data_dir: Path, rate: int = 1000, seconds: float = 10.0,
                per_tick: int = 20) -> dict[str, Any]:
    """Lag of the live path on the data folder ``data_dir`` (its log and dashboards as they are).

    The monitoring service runs here; the producer in a process of its own, so neither one's
    Python work waits for the other's. A watcher reads the region's figure every 2 ms."""
    with tempfile.TemporaryDirectory(prefix="bench-lag-") as tmp, \
            EmbeddedNats(Path(tmp) / "nats") as nats:
        settings = Settings(data_dir=data_dir, token_secret=SECRET, nats_url=nats.url,
                            log_level="WARNING", relay_lease_seconds=0)
        init_key(settings, exist_ok=True)
        monitoring = MonitoringRuntime(settings)
        logged = monitoring.audit.size()
        spawn = multiprocessing.get_context("spawn")
        ready, go, out = spawn.Event(), spawn.Event(), spawn.Queue()
        child = spawn.Process(target=produce, args=(str(Path(tmp) / "producer"), nats.url, rate,
                                                    seconds, per_tick, ready, go, out))
        child.start()
        try:
            with TestClient(create_app(settings, [monitoring])):
                # Steady state: the dashboards have loaded their state and reached the log's end.
                deadline = time.monotonic() + 600
                while monitoring.dashboards.position != logged and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not ready.wait(120):
                    raise RuntimeError("the producer did not start")
                samples: list[tuple[float, float]] = []  # (time, region's meetings) on change
                done = threading.Event()

                def watch() -> None:
                    raw = monitoring.read_engine.raw_connection()
                    try:
                        cursor = raw.cursor()
                        last = -1.0
                        while not done.is_set():
                            cursor.execute(f"SELECT value FROM {counts_table.fullname} WHERE scope = ? "
                                           "AND metric = ?", ("bench", "meetings.held"))
                            row = cursor.fetchone()
                            value = float(row[0]) if row else 0.0
                            if value != last:
                                samples.append((time.monotonic(), value))
                                last = value
                            time.sleep(0.002)
                    finally:
                        raw.close()

                watcher = threading.Thread(target=watch)
                watcher.start()
                go.set()
                stored_at, achieved = out.get(timeout=seconds + 300)
                total = stored_at[-1][0]
                deadline = time.monotonic() + 60
                while (not samples or samples[-1][1] < total) and time.monotonic() < deadline:
                    time.sleep(0.01)
                done.set()
                watcher.join()
        finally:
            go.set()
            child.join(60)
        lags = []
        first = 0  # counts only grow: the first sample reaching each total, in one pass
        for count, stored in stored_at:
            while first < len(samples) and samples[first][1] < count:
                first += 1
            if first < len(samples):
                lags.append((samples[first][0] - stored) * 1000)
        assert len(lags) == len(stored_at), ("some events never reached the regional figure",
                                             samples[-3:], stored_at[-3:])
        return {"pipeline_lag_p50_ms": round(statistics.median(lags), 1),
                "pipeline_lag_p99_ms": round(percentile(lags, 0.99), 1),
                "pipeline_lag_max_ms": round(max(lags), 1),
                "pipeline_rate_events_per_s": round(achieved), "pipeline_events": total,
                "pipeline_log_entries": logged}


# --- the whole run --------------------------------------------------------------------------

def run_benchmark(events: int, lag_seconds: float = 10.0, dashboard_events: int | None = None,
                  queries: int = 200, as_of_queries: int = 1) -> dict[str, Any]:
    """Rebuild and live lag on a log of ``events``; the dashboard on ``dashboard_events``
    (the same log when None)."""
    check_region_log()
    result: dict[str, Any] = {"events": events}
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        settings = Settings(data_dir=Path(tmp), token_secret=SECRET)
        result["fill_s"] = round(fill_log(settings, events), 1)
        result.update(measure_rebuild(settings, events))
        if dashboard_events is None:
            result.update(measure_dashboard(settings, events, queries, as_of_queries))
        result.update(measure_lag(Path(tmp), seconds=lag_seconds))
    if dashboard_events:
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
            settings = Settings(data_dir=Path(tmp), token_secret=SECRET)
            result["dashboard_fill_s"] = round(fill_log(settings, dashboard_events), 1)
            rebuilt = measure_rebuild(settings, dashboard_events)
            result["dashboard_rebuild_s"] = rebuilt["rebuild_s"]
            result["dashboard_rebuild_events_per_s"] = rebuilt["rebuild_events_per_s"]
            result.update(measure_dashboard(settings, dashboard_events, queries, as_of_queries))
    return result


def report(result: dict[str, Any]) -> str:
    lines = []
    for name, value in result.items():
        goal, check = GOALS.get(name, ("", None))
        verdict = ("  ✓" if check(value) else "  ✗") if check else ""
        lines.append(f"  {name:<34} {value:>14}" + (f"   цель: {goal}{verdict}" if goal else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="log size for the rebuild and the live lag (default 1,000,000)")
    parser.add_argument("--dashboard-events", type=int, default=10_000_000,
                        help="log size behind the dashboard query (default 10,000,000; "
                             "0: measure it on the --events log)")
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--as-of-queries", type=int, default=1,
                        help="as-of dashboards per moment (each folds the log; 0 skips them)")
    args = parser.parse_args()
    result = run_benchmark(args.events, args.lag_seconds, args.dashboard_events or None,
                           args.queries, args.as_of_queries)
    print(report(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
