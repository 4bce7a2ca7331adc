"""Every kind of tampering with an export is told apart and placed at its first bad position."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.monitoring.audit import AuditEnvelope, AuditStore, HeadSigner, check_export
from services.monitoring.audit.chain import node_hash
from services.monitoring.audit.export_check import _leaf

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Lines = list[dict[str, Any]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, HeadSigner]:
    folder = tmp_path_factory.mktemp("export")
    store = AuditStore(sa.create_engine(f"sqlite:///{folder / 'log.sqlite'}"))
    store.create_schema()
    signer = HeadSigner(Ed25519PrivateKey.generate())
    with store.engine.begin() as conn:
        store.append_batch(conn, [AuditEnvelope(
            data=b'{"n":%d}' % i, source="pairing", source_position=i,
            event_id=str(uuid.UUID(int=i)), event_type="MeetingHeld",
            occurred_at=T0 + timedelta(hours=i), aggregate_id=str(uuid.UUID(int=i)),
            region="demo") for i in range(1, 11)])
    out = folder / "export.jsonl"
    with store.engine.connect() as conn:
        store.export(conn, out, T0, T0 + timedelta(days=1), signer)
    store.engine.dispose()
    return out.read_text(encoding="utf-8"), signer


def entries(lines: Lines) -> list[dict[str, Any]]:
    return [x for x in lines if x["type"] == "entry"]


def renumber(lines: Lines, start: int, delta: int) -> Lines:
    for x in entries(lines):
        if x["position"] >= start:
            x["position"] += delta
            x["seq"] += delta
    return lines


def edit(lines: Lines, pos: int) -> Lines:
    for x in entries(lines):
        if x["position"] == pos:
            x["data_b64"] = base64.b64encode(b'{"n":"forged"}').decode()
    return lines


def delete(lines: Lines, pos: int) -> Lines:
    return [x for x in lines if x.get("position") != pos]


def insert_forged(lines: Lines, before: int, shift: bool) -> Lines:
    i = next(i for i, x in enumerate(lines) if x.get("position") == before)
    forged = {**lines[i], "data_b64": base64.b64encode(b'{"n":"slipped in"}').decode()}
    if shift:
        renumber(lines, before, 1)
        forged["position"], forged["seq"] = before, lines[i]["seq"] - 1
    return [*lines[:i], forged, *lines[i:]]


def duplicate(lines: Lines, pos: int) -> Lines:
    i = next(i for i, x in enumerate(lines) if x.get("position") == pos)
    return [*lines[:i + 1], dict(lines[i]), *lines[i + 1:]]


def swap(lines: Lines, a: int, b: int) -> Lines:
    i = next(i for i, x in enumerate(lines) if x.get("position") == a)
    j = next(i for i, x in enumerate(lines) if x.get("position") == b)
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def recompute_root(lines: Lines, pos: int) -> Lines:
    """Edit an entry and put into the head the root its own proof now leads to."""
    edit(lines, pos)
    line = next(x for x in entries(lines) if x["position"] == pos)
    size = lines[1]["size"]
    fn, sn, r = pos - 1, size - 1, _leaf(line)
    for p in (bytes.fromhex(h) for h in line["proof"]):
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    lines[1]["root_hex"] = r.hex()
    return lines


CASES: dict[str, tuple[Callable[[Lines], Lines], str, int]] = {
    "edited": (lambda x: edit(x, 4), "EDITED", 4),
    "deleted": (lambda x: delete(x, 4), "DELETED", 4),
    "deleted and renumbered": (lambda x: renumber(delete(x, 4), 5, -1), "DELETED", 4),
    "inserted, later lines shifted": (lambda x: insert_forged(x, 4, True), "INSERTED", 4),
    "inserted, nothing renumbered": (lambda x: insert_forged(x, 4, False), "INSERTED", 4),
    "a copy inserted": (lambda x: duplicate(x, 3), "INSERTED", 4),
    "swapped with the next": (lambda x: swap(x, 4, 5), "REORDERED", 4),
    "swapped with a later one": (lambda x: swap(x, 4, 8), "REORDERED", 4),
    "tail cut, manifest kept": (lambda x: [y for y in x if y.get("position", 0) < 8],
                                "TRUNCATED", 8),
    "tail and manifest cut": (lambda x: [y for y in x if y.get("position", 0) < 8
                                         and y["type"] != "manifest"], "TRUNCATED", 8),
    "root recomputed over an edit": (lambda x: recompute_root(x, 6), "EDITED", 6),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_tampering_is_named_at_its_first_bad_position(
        exported: tuple[str, HeadSigner], tmp_path: Path, case: str) -> None:
    text, signer = exported
    change, code, position = CASES[case]
    lines = change([json.loads(x) for x in text.splitlines()])
    out = tmp_path / "tampered.jsonl"
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    result = check_export(out, signer.public_key)
    assert not result.ok
    assert result.problem is not None
    assert (result.problem.code, result.problem.position) == (code, position), str(result)


def test_the_untouched_export_passes(exported: tuple[str, HeadSigner], tmp_path: Path) -> None:
    text, signer = exported
    out = tmp_path / "export.jsonl"
    out.write_text(text)
    result = check_export(out, signer.public_key)
    assert result.ok and result.entries == 10, str(result)
