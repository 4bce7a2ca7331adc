"""Audit log throughput: append N synthetic ~400-byte events into SQLite, then verify all.

    .venv/bin/python benchmarks/bench_audit.py --entries 1000000 [--db-url URL] [--batch 10000]

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.monitoring.audit import (  # noqa: E402 - needs the repo root on sys.path
    AuditEnvelope,
    AuditStore,
    HeadsFile,
    HeadSigner,
)

SOURCES = ("registry", "pairing", "documents", "monitoring")
T0 = datetime(2025, 9, 1, tzinfo=UTC)


def synthetic_envelopes(count: int) -> Iterator[AuditEnvelope]:
    pad = "ж" * 120  # Cyrillic text, 2 bytes each in UTF-8, like real Russian payloads
    for i in range(1, count + 1):
        source = SOURCES[i % 4]
        data = (
            f'{{"event_type":"MentorAssigned","pair_id":"pair-{i % 50000}",'
            f'"mentor_id":"mentor-{i % 7919}","mentee_id":"mentee-{i % 104729}",'
            f'"seq":{i},"note":"{pad}"}}'
        ).encode()
        yield AuditEnvelope(
            data=data,
            source=source,
            source_position=i,
            event_id=str(uuid.UUID(int=i)),
            event_type="MentorAssigned",
            occurred_at=T0 + timedelta(seconds=i),
            aggregate_id=f"pair-{i % 50000}",
            region="77",
            municipality="77/msk",
            organisation=f"77/msk/school-{i % 300}",
        )


def _tune_sqlite(engine: sa.Engine) -> None:
    # WAL + synchronous=NORMAL is the production setting for a single-writer SQLite log.
    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA cache_size=-200000")
        cur.close()


def run_benchmark(entries: int, db_url: str | None = None, batch: int = 10000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'audit.db'}"
        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine)
        schema = None
        if engine.dialect.name == "postgresql":
            # A throwaway schema: never touch tables that may already exist in that database.
            schema = f"bench_audit_{uuid.uuid4().hex[:12]}"
            with engine.begin() as conn:
                conn.execute(sa.schema.CreateSchema(schema))
        try:
            return _run(engine, schema, entries, batch, Path(tmp), db_url is None)
        finally:
            if schema is not None:
                with engine.begin() as conn:
                    conn.execute(sa.schema.DropSchema(schema, cascade=True))
            engine.dispose()


def _run(
    engine: sa.Engine, schema: str | None, entries: int, batch: int, tmp: Path, local: bool
) -> dict[str, Any]:
    store = AuditStore(engine, schema=schema)
    store.create_schema()
    signer = HeadSigner(Ed25519PrivateKey.generate())
    heads = HeadsFile(tmp / "heads.jsonl")

    source = synthetic_envelopes(entries)
    appended = 0
    append_s = 0.0
    while appended < entries:
        # Generating synthetic events is the producer's cost, not the log's: untimed.
        chunk = [next(source) for _ in range(min(batch, entries - appended))]
        t0 = time.perf_counter()
        with engine.begin() as conn:
            appended += store.append_batch(conn, chunk)
        append_s += time.perf_counter() - t0
    with engine.connect() as conn:
        store.sign_head(conn, signer, heads)

    t0 = time.perf_counter()
    with engine.connect() as conn:
        result = store.verify(conn, heads, signer.public_key)
    verify_s = time.perf_counter() - t0
    if not result.ok or result.entries != entries:
        raise RuntimeError(f"verification failed: {result}")
    db_bytes = sum(p.stat().st_size for p in tmp.glob("audit.db*"))
    return {
        "entries": entries,
        "backend": engine.dialect.name,
        "append_seconds": round(append_s, 3),
        "verify_seconds": round(verify_s, 3),
        "append_entries_per_s": round(entries / append_s),
        "verify_entries_per_s": round(entries / verify_s),
        "db_bytes": db_bytes if local else None,
        "summary": str(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--batch", type=int, default=10000)
    args = parser.parse_args()
    res = run_benchmark(args.entries, args.db_url, args.batch)
    print(f"append: {res['entries']} entries in {res['append_seconds']} s "
          f"= {res['append_entries_per_s']} entries/s")
    print(f"verify: {res['entries']} entries in {res['verify_seconds']} s "
          f"= {res['verify_entries_per_s']} entries/s")
    print(res["summary"])
    print(json.dumps({
        "verify_entries_per_s": res["verify_entries_per_s"],
        "append_entries_per_s": res["append_entries_per_s"],
        "entries": res["entries"],
        "backend": res["backend"],
    }))


if __name__ == "__main__":
    main()
