"""AuditStore on a real SQLite file, and on PostgreSQL when NASTAVNIK_TEST_POSTGRES_URL is set.

The attacker in these tests has full write access to the database (and recomputes hashes where
noted) but not to the signing key or the heads file.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.monitoring.audit import (
    CHAIN_BROKEN,
    DELETED,
    EDITED,
    HEAD_INVALID,
    HEAD_MISMATCH,
    HEADS_MISSING,
    INSERTED,
    REORDERED,
    TRUNCATED,
    AuditEnvelope,
    AuditIntegrityError,
    AuditStore,
    HeadsFile,
    HeadSigner,
    check_export,
    create_key,
    public_key_pem,
)
from services.monitoring.audit.chain import ZERO_HASH, CompactRange, chain_next, leaf_hash
from services.monitoring.audit.records import HEAD_GRACE_SECONDS

PG_URL = os.environ.get("NASTAVNIK_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
MSK = timezone(timedelta(hours=3))
T0 = datetime(2025, 9, 1, 9, 0, tzinfo=MSK)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
        s = AuditStore(engine)
        s.create_schema()
        yield s
        engine.dispose()
        return
    assert PG_URL is not None
    engine = sa.create_engine(PG_URL)
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        s = AuditStore(engine, schema=schema)
        s.create_schema()
        yield s
    finally:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> HeadSigner:
    return HeadSigner(create_key(tmp_path / "audit-key.pem"))


@pytest.fixture
def heads(tmp_path: Path) -> HeadsFile:
    return HeadsFile(tmp_path / "heads.jsonl")


def envelope(i: int, source: str = "registry") -> AuditEnvelope:
    payload = {"event": i, "text": f"наставник назначен {i}", "source": source}
    return AuditEnvelope(
        data=json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
        source=source,
        source_position=i,
        event_id=str(uuid.UUID(int=i + (10**6 if source != "registry" else 0))),
        event_type="MentorAssigned" if i % 2 else "PairCreated",
        occurred_at=T0 + timedelta(hours=i),
        aggregate_id=f"pair-{i % 4}",
        region="77",
        municipality="77/msk" if i % 3 else None,
        organisation="77/msk/school-1" if i % 3 == 1 else None,
    )


def fill(store: AuditStore, signer: HeadSigner, heads: HeadsFile, n: int = 40, step: int = 5):
    """Append n events in batches of `step`, signing a head after each committed batch."""
    for start in range(1, n + 1, step):
        with store.engine.begin() as conn:
            store.append_batch(conn, [envelope(i) for i in range(start, min(start + step, n + 1))])
        with store.engine.connect() as conn:
            store.sign_head(conn, signer, heads)


def verify(store: AuditStore, heads: HeadsFile, signer: HeadSigner):
    with store.engine.connect() as conn:
        return store.verify(conn, heads, public_key_pem(signer.public_key))


# ---- attacker tools ------------------------------------------------------------------------

def recompute_from(store: AuditStore, conn: sa.Connection, start: int) -> None:
    """Recompute every stored leaf/chain hash from `start` and the state row, as an attacker
    with DB access would after rewriting history."""
    t = store.entries
    acc = CompactRange()
    chain = ZERO_HASH
    for e in list(store.iter_entries(conn)):
        leaf = leaf_hash(e.entry_bytes())
        chain = chain_next(chain, leaf)
        acc.append(leaf)
        if e.position >= start:
            conn.execute(
                sa.update(t).where(t.c.position == e.position).values(leaf_hash=leaf,
                                                                      chain_hash=chain)
            )
    conn.execute(
        sa.update(store.state).values(size=acc.size, chain_hash=chain,
                                      frontier=json.dumps(acc.to_hex()))
    )


def move(conn: sa.Connection, store: AuditStore, old: int, new: int) -> None:
    t = store.entries
    conn.execute(sa.update(t).where(t.c.position == old).values(position=new))


def shift_up_from(conn: sa.Connection, store: AuditStore, p: int) -> None:
    # Two steps: a direct +1 would collide on the primary key mid-statement.
    t = store.entries
    conn.execute(sa.update(t).where(t.c.position >= p).values(position=-(t.c.position + 1)))
    conn.execute(sa.update(t).where(t.c.position < 0).values(position=-t.c.position))


# ---- append, idempotency, transactions -------------------------------------------------------

def test_append_and_verify_clean_log(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    result = verify(store, heads, signer)
    assert result.ok, str(result)
    assert result.entries == 40 and result.signed_size == 40
    latest = heads.latest()
    with store.engine.connect() as conn:
        size, root, chain = store.head(conn)
    assert (size, root.hex(), chain.hex()) == (40, latest.root_hex, latest.chain_hex)
    assert (result.root_hex, result.chain_hex) == (latest.root_hex, latest.chain_hex)


def test_redelivery_changes_nothing(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=10)
    with store.engine.connect() as conn:
        before = store.head(conn)
        rows_before = list(store.iter_entries(conn))
    with store.engine.begin() as conn:
        assert store.append_batch(conn, [envelope(i) for i in range(1, 11)]) == 0
        # Same event id under another stream position, and same stream position under another id.
        e3 = envelope(3)
        assert store.append_batch(conn, [
            AuditEnvelope(**{**e3.__dict__, "source_position": 999}),
            AuditEnvelope(**{**e3.__dict__, "event_id": str(uuid.uuid4())}),
        ]) == 0
    with store.engine.connect() as conn:
        assert store.head(conn) == before
        assert list(store.iter_entries(conn)) == rows_before
    # Mixed batch with in-batch duplicates: only the genuinely new ones land, in order.
    with store.engine.begin() as conn:
        batch = [envelope(5), envelope(11), envelope(11), envelope(12), envelope(1, "pairing")]
        assert store.append_batch(conn, batch) == 3
    with store.engine.connect() as conn:
        tail = list(store.iter_entries(conn, start=11))
    assert [(e.position, e.source, e.source_position) for e in tail] == [
        (11, "registry", 11), (12, "registry", 12), (13, "pairing", 1)
    ]
    result = verify(store, heads, signer)
    assert result.ok and result.entries == 13 and result.signed_size == 10
    assert "без подписи последние 3" in str(result)


def test_bulk_load_stores_what_appending_stores(store: AuditStore, signer, heads,
                                                tmp_path: Path) -> None:
    # One clock for both: each entry keeps (and hashes) when it was appended.
    appended = AuditStore(sa.create_engine(f"sqlite:///{tmp_path / 'appended.db'}"),
                          clock=lambda: T0)
    store.clock = lambda: T0
    appended.create_schema()
    fill(appended, signer, HeadsFile(tmp_path / "appended-heads.jsonl"), n=23)
    assert store.bulk_load((envelope(i) for i in range(1, 24)), batch=10) == 23  # 3 transactions
    with store.engine.connect() as conn, appended.engine.connect() as other:
        assert store.head(conn) == appended.head(other)
        assert list(store.iter_entries(conn)) == list(appended.iter_entries(other))
    appended.engine.dispose()
    with store.engine.begin() as conn:  # the live feeder carries on from there
        assert store.append_batch(conn, [envelope(23), envelope(24)]) == 1
    with store.engine.connect() as conn:
        store.sign_head(conn, signer, heads)
    result = verify(store, heads, signer)
    assert result.ok and result.entries == 24 and result.signed_size == 24


def test_append_rolls_back_with_callers_transaction(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=5)
    with store.engine.connect() as conn:
        before = store.head(conn)
    conn = store.engine.connect()
    try:
        trans = conn.begin()
        assert store.append_batch(conn, [envelope(6), envelope(7)]) == 2
        trans.rollback()  # e.g. committing the consumer position failed
    finally:
        conn.close()
    with store.engine.connect() as conn:
        assert store.head(conn) == before
    with store.engine.begin() as conn:
        assert store.append_batch(conn, [envelope(6), envelope(7)]) == 2
    assert verify(store, heads, signer).ok


def test_queries(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=12)
    with store.engine.connect() as conn:
        agg = store.entries_for_aggregate(conn, "pair-1")
        assert [e.position for e in agg] == [1, 5, 9]
        window = store.entries_between(conn, T0 + timedelta(hours=3), T0 + timedelta(hours=6))
        assert [e.position for e in window] == [3, 4, 5]
        assert window[0].occurred_at == (T0 + timedelta(hours=3)).astimezone(UTC)
        assert window[0].occurred_at.tzinfo is not None
        every = list(store.iter_entries(conn, batch=5))
        assert [e.position for e in every] == list(range(1, 13))
        assert every[0].data == envelope(1).data
        assert every[0].municipality == "77/msk" and every[2].municipality is None


# ---- tampering on the stored log -------------------------------------------------------------

def test_direct_update_of_data_is_edited(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 17).values(data=b'{"forged":1}'))
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (EDITED, 17), str(result)


def test_update_of_indexed_metadata_is_edited(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 8).values(aggregate_id="pair-other"))
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (EDITED, 8)


def test_deleted_event(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.position == 23))
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (DELETED, 23)


def test_inserted_event_with_recomputed_hashes(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    forged = envelope(777, source="documents")
    with store.engine.begin() as conn:
        shift_up_from(conn, store, 13)
        conn.execute(store.entries.insert().values(
            position=13, source=forged.source, source_position=forged.source_position,
            event_id=forged.event_id, event_type=forged.event_type,
            occurred_at=forged.occurred_at.astimezone(UTC).replace(tzinfo=None)
            if store.engine.dialect.name == "sqlite" else forged.occurred_at,
            aggregate_id=forged.aggregate_id, region=forged.region, municipality=None,
            organisation=None, data=forged.data, leaf_hash=ZERO_HASH, chain_hash=ZERO_HASH,
        ))
        recompute_from(store, conn, 13)
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (INSERTED, 13), str(result)


def test_two_swapped_events_naive(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    with store.engine.begin() as conn:
        move(conn, store, 9, -9)
        move(conn, store, 27, 9)
        move(conn, store, -9, 27)
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (REORDERED, 9), str(result)


def test_two_swapped_events_with_recomputed_hashes(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    with store.engine.begin() as conn:
        move(conn, store, 31, -31)
        move(conn, store, 34, 31)
        move(conn, store, -31, 34)
        recompute_from(store, conn, 31)
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (REORDERED, 31), str(result)


def test_edit_with_recomputed_hashes_is_located_by_heads(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 18).values(data=b'{"forged":1}'))
        recompute_from(store, conn, 18)
    result = verify(store, heads, signer)
    # Head after #15 still matches, head #20 does not: the rewrite is inside 16..20.
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        HEAD_MISMATCH, 16, 20
    ), str(result)


def test_truncated_tail(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.position > 33))
        recompute_from(store, conn, 1)  # attacker also fixes the state row
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (TRUNCATED, 34), str(result)


def test_truncation_without_heads_caught_by_state_row(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=10)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.position > 7))
    with store.engine.connect() as conn:
        result = store.verify(conn, None, None)
    assert (result.problem.code, result.problem.position) == (TRUNCATED, 8)


def test_broken_chain_hash(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 3).values(chain_hash=b"\x01" * 32))
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (CHAIN_BROKEN, 3)


def test_tampered_heads_file_is_reported(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=10)
    lines = heads.path.read_text().splitlines()
    raw = json.loads(lines[0])
    raw["size"] = 4
    lines[0] = json.dumps(raw)
    heads.path.write_text("\n".join(lines) + "\n")
    result = verify(store, heads, signer)
    assert not result.ok and result.problem.code == HEAD_INVALID
    assert "строке 1" in result.problem.message_ru


# ---- export ------------------------------------------------------------------------------

def export(store: AuditStore, signer, heads, tmp_path: Path, hours: tuple[int, int] = (5, 25)):
    out = tmp_path / "export.jsonl"
    with store.engine.connect() as conn:
        summary = store.export(conn, out, T0 + timedelta(hours=hours[0]),
                               T0 + timedelta(hours=hours[1]), signer, heads)
    return out, summary


def test_export_checks_on_the_file_alone(store: AuditStore, signer, heads, tmp_path) -> None:
    fill(store, signer, heads)
    with store.engine.begin() as conn:
        store.append_batch(conn, [envelope(41), envelope(42)])  # unsigned until export
    out, summary = export(store, signer, heads, tmp_path)
    assert summary.entries == 20 and summary.head.size == 42
    assert heads.latest().size == 42  # export signed and recorded a fresh head
    alone = check_export(out)
    assert alone.ok, str(alone)
    assert alone.entries == 20 and alone.signed_size == 42
    assert any("из самого файла" in n for n in alone.notes)
    assert any("размера 40" in n for n in alone.notes)  # consistency with the previous head
    with_key = check_export(out, public_key_pem(signer.public_key))
    assert with_key.ok
    stranger = Ed25519PrivateKey.generate().public_key()
    assert check_export(out, stranger).problem.code == HEAD_INVALID


def _rewrite(out: Path, fn) -> None:
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    lines = fn(lines)
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                   encoding="utf-8")


def test_tampered_export_line_detected(store: AuditStore, signer, heads, tmp_path) -> None:
    fill(store, signer, heads)
    out, _ = export(store, signer, heads, tmp_path)

    def edit(lines):
        for line in lines:
            if line.get("position") == 12:
                line["data_b64"] = base64.b64encode(b'{"forged":1}').decode()
        return lines

    _rewrite(out, edit)
    result = check_export(out)
    assert (result.problem.code, result.problem.position) == (EDITED, 12), str(result)


def test_export_metadata_edit_and_dropped_line(store: AuditStore, signer, heads, tmp_path) -> None:
    fill(store, signer, heads)
    out, _ = export(store, signer, heads, tmp_path)
    original = out.read_text(encoding="utf-8")

    def retime(lines):
        for line in lines:
            if line.get("position") == 7:
                line["aggregate_id"] = "pair-x"
        return lines

    _rewrite(out, retime)
    assert (check_export(out).problem.code, check_export(out).problem.position) == (EDITED, 7)

    out.write_text(original, encoding="utf-8")
    _rewrite(out, lambda lines: [x for x in lines if x.get("position") != 9])
    result = check_export(out)
    assert (result.problem.code, result.problem.position) == (DELETED, 9)  # the line removed

    out.write_text(original, encoding="utf-8")
    _rewrite(out, lambda lines: [x for x in lines if x.get("type") != "manifest"])
    assert check_export(out).problem.code == TRUNCATED


def test_export_refuses_a_rewritten_log(store: AuditStore, signer, heads, tmp_path) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 4).values(data=b'{"forged":1}'))
        recompute_from(store, conn, 4)
    with pytest.raises(AuditIntegrityError):
        export(store, signer, heads, tmp_path)


# ---- a signed head of size 0 ----------------------------------------------------------------

def test_head_of_the_empty_log_keeps_later_heads_checked(store: AuditStore, signer, heads) -> None:
    with store.engine.connect() as conn:
        assert store.sign_head(conn, signer, heads).size == 0  # e.g. signed right after deployment
    fill(store, signer, heads, n=20)
    assert verify(store, heads, signer).ok
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 5).values(data=b'{"forged":1}'))
        recompute_from(store, conn, 5)  # every hash and the state row
    result = verify(store, heads, signer)
    assert not result.ok
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        HEAD_MISMATCH, 1, 5), str(result)


def test_head_of_the_empty_log_keeps_the_state_row_checked(store: AuditStore, signer,
                                                           heads) -> None:
    with store.engine.connect() as conn:
        store.sign_head(conn, signer, heads)
    with store.engine.begin() as conn:
        store.append_batch(conn, [envelope(i) for i in range(1, 11)])  # not signed yet
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 4).values(data=b'{"forged":1}'))
        # Every row's hashes recomputed, the state row forgotten: it still holds the truth.
        state = dict(conn.execute(sa.select(store.state)).one()._mapping)
        recompute_from(store, conn, 4)
        conn.execute(sa.update(store.state).values(**state))
    result = verify(store, heads, signer)
    assert not result.ok and result.problem.code == HEAD_MISMATCH, str(result)


# ---- naive insertion: rows shifted by one, no hash recomputed --------------------------------

@pytest.mark.parametrize("hashes", ["zeros", "copied"])
def test_inserted_event_without_recomputing(store: AuditStore, signer, heads, hashes: str) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        model = dict(conn.execute(sa.select(t).where(t.c.position == 13)).one()._mapping)
        shift_up_from(conn, store, 13)
        forged = {**model, "position": 13, "source_position": 10_000,
                  "event_id": "00000000-0000-0000-0000-00000000f00d",
                  "data": model["data"].replace("наставник".encode(), "подделка".encode())}
        if hashes == "zeros":
            forged.update(leaf_hash=ZERO_HASH, chain_hash=ZERO_HASH)
        conn.execute(t.insert().values(forged))
    result = verify(store, heads, signer)
    assert (result.problem.code, result.problem.position) == (INSERTED, 13), str(result)


# ---- heads that go missing ------------------------------------------------------------------

def test_missing_heads_file_is_reported_when_heads_were_signed(store: AuditStore, signer,
                                                               heads) -> None:
    fill(store, signer, heads, n=10)
    heads.path.unlink()
    result = verify(store, heads, signer)
    assert not result.ok
    assert result.problem.code == HEADS_MISSING
    assert (result.problem.position, result.problem.position_to) == (1, 10)
    assert "вершин" in result.problem.message_ru and "2" in result.problem.message_ru
    heads.path.write_text("")  # an emptied file is no better
    assert verify(store, heads, signer).problem.code == HEADS_MISSING


def test_rewritten_log_with_the_heads_file_removed_is_not_ok(store: AuditStore, signer,
                                                              heads) -> None:
    fill(store, signer, heads)
    t = store.entries
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.position == 5).values(data=b'{"forged":1}'))
        recompute_from(store, conn, 5)
    heads.path.unlink()
    result = verify(store, heads, signer)
    assert not result.ok and result.problem.code == HEADS_MISSING, str(result)


def test_heads_removed_from_the_end_of_the_file_are_reported(store: AuditStore, signer,
                                                             heads) -> None:
    fill(store, signer, heads)  # heads of sizes 5, 10, ..., 40
    lines = heads.path.read_text().splitlines()
    heads.path.write_text("\n".join(lines[:5]) + "\n")  # up to size 25
    with store.engine.begin() as conn:  # and the log cut back to match, state row too
        conn.execute(sa.delete(store.entries).where(store.entries.c.position > 25))
        recompute_from(store, conn, 1)
    result = verify(store, heads, signer)
    assert not result.ok
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        HEADS_MISSING, 26, 40), str(result)
    assert "8" in result.problem.message_ru and "5" in result.problem.message_ru


def test_fresh_log_whose_first_head_is_not_due_yet_is_ok(store: AuditStore, signer,
                                                         heads) -> None:
    with store.engine.begin() as conn:
        store.append_batch(conn, [envelope(i) for i in range(1, 4)])  # events of 2025
    result = verify(store, heads, signer)
    assert result.ok, str(result)
    assert result.entries == 3 and result.signed_size == 0


def test_log_older_than_the_signing_interval_without_any_head_is_reported(
        store: AuditStore, signer, heads) -> None:
    with store.engine.begin() as conn:
        store.append_batch(conn, [envelope(i) for i in range(1, 4)])
    with store.engine.connect() as conn:
        record = store.signing(conn)
        assert record is not None and record.heads == 0 and record.first_entry_at is not None
        later = record.first_entry_at + timedelta(seconds=10 + HEAD_GRACE_SECONDS + 1)
        result = store.verify(conn, heads, signer.public_key, head_interval=10, now=later)
        assert not result.ok and result.problem.code == HEADS_MISSING, str(result)
        assert (result.problem.position, result.problem.position_to) == (1, 3)
        assert "10 с" in result.problem.message_ru
        in_time = record.first_entry_at + timedelta(seconds=10)
        assert store.verify(conn, heads, signer.public_key, head_interval=10, now=in_time).ok


def test_log_that_predates_the_signing_record_falls_back_to_event_times(
        store: AuditStore, signer, heads) -> None:
    with store.engine.begin() as conn:
        store.append_batch(conn, [envelope(i) for i in range(1, 4)])  # events of 2025
        conn.execute(sa.text("DROP TABLE " + store.signing_table.fullname))
    result = verify(store, heads, signer)
    assert not result.ok and result.problem.code == HEADS_MISSING, str(result)


def test_signing_is_recorded_in_the_store(store: AuditStore, signer, heads) -> None:
    fill(store, signer, heads, n=12, step=5)
    with store.engine.connect() as conn:
        record = store.signing(conn)
    assert record is not None
    assert (record.heads, record.signed_size) == (3, 12)
    assert record.signed_at is not None and record.first_entry_at is not None
    with store.engine.connect() as conn:
        store.sign_head(conn, signer)  # kept nowhere: not counted
        assert store.signing(conn).heads == 3
