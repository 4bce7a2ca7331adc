"""Entry format 2: every entry keeps when the log appended it and the business date it carries;
a log that began in format 1 keeps verifying, in the database and in an export; and the two
histories "as of T" differ exactly where a record was back-dated."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from services.monitoring.audit import AuditEnvelope, AuditStore, HeadsFile, HeadSigner, create_key
from services.monitoring.audit.chain import ZERO_HASH, CompactRange, chain_next, leaf_hash
from services.monitoring.audit.checked import last_position_before
from services.monitoring.audit.export_check import check_export
from services.monitoring.audit.heads import public_key_pem
from services.monitoring.dashboards.projector import log_pages


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def meeting(i: int, day: date, occurred: datetime) -> AuditEnvelope:
    data = json.dumps({"type": "MeetingHeld", "payload": {"date": day.isoformat()}}).encode()
    return AuditEnvelope(data=data, source="pairing", source_position=i,
                         event_id=str(uuid.UUID(int=i)), event_type="MeetingHeld",
                         occurred_at=occurred, aggregate_id=f"pair-{i}", region="demo",
                         municipality="demo/m1", organisation="demo/m1/school-a")


def positions(store: AuditStore, until: datetime, basis: str) -> list[int]:
    with store.engine.connect() as conn:
        return [int(r[0]) for rows in log_pages(store, conn, 0, 100, until, basis)  # type: ignore[arg-type]
                for r in rows]


def downgrade_to_format_1(store: AuditStore) -> None:
    """What a log appended before format 2 looks like: no times, the old bytes, its chain."""
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).values(appended_at=None, business_at=None))
        acc, chain = CompactRange(), ZERO_HASH
        for e in list(store.iter_entries(conn)):
            leaf = leaf_hash(e.entry_bytes())
            chain = chain_next(chain, leaf)
            acc.append(leaf)
            conn.execute(sa.update(t).where(t.c.position == e.position)
                         .values(leaf_hash=leaf, chain_hash=chain))
        conn.execute(sa.update(store.state).values(size=acc.size, chain_hash=chain,
                                                   frontier=json.dumps(acc.to_hex())))


def test_old_entries_verify_beside_new_ones_and_back_dating_changes_only_known(
        tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 10, 9, tzinfo=UTC))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    store = AuditStore(engine, clock=clock)
    store.create_schema()
    signer = HeadSigner(create_key(tmp_path / "key.pem"))
    heads = HeadsFile(tmp_path / "heads.jsonl")
    with engine.begin() as conn:
        store.append_batch(conn, [meeting(1, date(2026, 1, 5), datetime(2026, 1, 5, 12, tzinfo=UTC))])
    downgrade_to_format_1(store)

    # Appended on 20.01: a meeting of 12.01 (on time) ...
    clock.now = datetime(2026, 1, 20, 9, tzinfo=UTC)
    with engine.begin() as conn:
        store.append_batch(conn, [meeting(2, date(2026, 1, 12), clock.now)])
    # ... and on 10.02, one back-dated to 14.01 after T = 31.01 was already shown.
    clock.now = datetime(2026, 2, 10, 9, tzinfo=UTC)
    with engine.begin() as conn:
        store.append_batch(conn, [meeting(3, date(2026, 1, 14), clock.now)])
    with engine.connect() as conn:
        store.sign_head(conn, signer, heads)

    with engine.connect() as conn:
        entries = list(store.iter_entries(conn))
        result = store.verify(conn, heads, public_key_pem(signer.public_key))
    assert result.ok, str(result)
    assert [e.appended_at for e in entries] == [None, datetime(2026, 1, 20, 9, tzinfo=UTC),
                                                datetime(2026, 2, 10, 9, tzinfo=UTC)]
    # The business date is the meeting's day from midnight in Moscow (UTC+3).
    assert entries[2].business_at == datetime(2026, 1, 13, 21, tzinfo=UTC)

    t = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    assert positions(store, t, "shown") == [1, 2]  # what the figures showed on 31.01
    assert positions(store, t, "known") == [1, 2, 3]  # what was true then, as known today
    early = datetime(2026, 1, 13, 12, tzinfo=UTC)  # 13.01 15:00 in Moscow
    assert positions(store, early, "shown") == [1]
    assert positions(store, early, "known") == [1, 2]
    with engine.connect() as conn:
        assert last_position_before(store, conn, t, "shown") == 2
        assert last_position_before(store, conn, t, "known") == 3

    out = tmp_path / "export.jsonl"
    with engine.connect() as conn:
        store.export(conn, out, datetime(2025, 1, 1, tzinfo=UTC),
                     datetime(2027, 1, 1, tzinfo=UTC), signer, heads)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [line for line in lines if line["type"] == "entry"]
    assert "appended_at" not in rows[0] and rows[2]["appended_at"] == "2026-02-10T09:00:00.000000Z"
    assert check_export(out, public_key_pem(signer.public_key)).ok

    # Wiping the append time off a new entry changes its bytes: the log says which one.
    with engine.begin() as conn:
        conn.execute(sa.update(store.entries).where(store.entries.c.position == 3)
                     .values(appended_at=None))
    with engine.connect() as conn:
        tampered = store.verify(conn, heads, public_key_pem(signer.public_key))
    assert not tampered.ok and tampered.problem is not None and tampered.problem.position == 3
    assert tampered.problem.code == "EDITED"
    engine.dispose()
