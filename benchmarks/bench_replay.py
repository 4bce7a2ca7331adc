"""Replay throughput: N synthetic envelopes appended straight into an AuditStore (SQLite), then
the monitoring dashboards folded from the log as of the last moment (``nastavnik audit replay``'s
code: the region's dashboard, KPIs included).

    .venv/bin/python benchmarks/bench_replay.py --events 1000000

Prints human-readable rates and a final JSON line for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.monitoring.audit.feeder import audit_envelope  # noqa: E402 - repo root on sys.path
from services.monitoring.audit.replay import replay_log  # noqa: E402
from services.monitoring.audit.store import AuditStore  # noqa: E402
from shared.auth import Actor, OrgPath, Role  # noqa: E402
from shared.contracts import Envelope  # noqa: E402
from shared.events import schema_version  # noqa: E402

T0 = datetime(2025, 9, 1, tzinfo=UTC)
CURATOR = Actor(user="curator", role=Role.CURATOR, scope=OrgPath(region="demo"))


def _payload(i: int, org_id: uuid.UUID) -> tuple[str, str, dict[str, Any]]:
    # The mix of a working region: meetings and feedback dominate, people and pairs are rarer.
    kind = i % 10
    if kind == 0:
        return "registry", "MenteeRegistered", {
            "organisation_id": str(org_id), "category": "student", "grade": 7,
            "birth_year": 2013, "requests": ["олимпиада"], "minor": True}
    if kind == 1:
        return "registry", "ConsentRecorded", {"given_by": "guardian"}
    if kind == 2:
        return "pairing", "PairFormed", {
            "programme_id": None, "organisation_id": str(org_id), "form": "ученик – ученик",
            "mentor_id": str(uuid.UUID(int=i + 1)), "mentee_ids": [str(uuid.UUID(int=i + 2))],
            "order_ref": None, "suggested": True, "score": 0.8}
    if kind in (3, 4, 5, 6):
        return "pairing", "MeetingHeld", {
            "kind": "regular", "date": "2025-10-01", "duration_minutes": 45,
            "format": "in_person", "number": kind}
    return "pairing", "FeedbackSubmitted", {"meeting_number": 1, "side": "mentee",
                                            "satisfaction": 1 + i % 10,
                                            "respondent_id": str(uuid.UUID(int=i % 50_000))}


def synthetic(count: int, municipalities: int = 60, schools: int = 2000) -> Iterator[Envelope]:
    for i in range(1, count + 1):
        school = i % schools
        org = OrgPath(region="demo", municipality=f"m{school % municipalities}",
                      organisation=f"s{school}")
        source, event_type, payload = _payload(i, uuid.UUID(int=school))
        yield Envelope(
            event_id=uuid.UUID(int=i), type=event_type, schema_version=schema_version(event_type),
            occurred_at=T0 + timedelta(seconds=i), org=org, actor=CURATOR,
            correlation_id=uuid.UUID(int=i), causation_id=None, source=source,
            source_position=i, aggregate_id=uuid.UUID(int=i // 3 + 1), aggregate_version=i % 3 + 1,
            payload=payload)


def run_benchmark(events: int, batch: int = 10000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'audit.db'}")

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        store = AuditStore(engine)
        store.create_schema()
        started = time.perf_counter()
        chunk = []
        for envelope in synthetic(events):
            chunk.append(audit_envelope(envelope))
            if len(chunk) >= batch:
                with engine.begin() as conn:
                    store.append_batch(conn, chunk)
                chunk = []
        if chunk:
            with engine.begin() as conn:
                store.append_batch(conn, chunk)
        append_s = time.perf_counter() - started

        started = time.perf_counter()
        result = replay_log(store, T0 + timedelta(seconds=events))
        replay_s = time.perf_counter() - started
        engine.dispose()
    region = result["dashboards"]["demo"]
    assert result["events"] == events, (result["events"], events)
    assert region["meetings"]["held"] + region["feedback"]["submitted"] + region["pairs"]["formed"] + \
        region["mentees"]["total"] + region["consents"]["given"] == events
    return {
        "events": events,
        "append_s": round(append_s, 2),
        "append_events_per_s": round(events / append_s),
        "replay_s": round(replay_s, 2),
        "replay_events_per_s": round(events / replay_s),
        "scopes": len(region["units"]) + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10000)
    args = parser.parse_args()
    stats = run_benchmark(args.events, args.batch)
    print(f"appended {stats['events']} events in {stats['append_s']} s "
          f"({stats['append_events_per_s']} events/s)")
    print(f"replayed {stats['events']} events into the region and its {stats['scopes'] - 1} "
          f"municipalities in {stats['replay_s']} s "
          f"({stats['replay_events_per_s']} events/s)")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
