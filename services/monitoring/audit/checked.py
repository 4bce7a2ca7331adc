"""Verifying the log up to what an answer shows, before ``trail`` and ``replay`` give it: the
entries up to that position against the chain, the signed heads and, when given, a witness's
checkpoints. An answer read from a rewritten database then says so instead of showing the
forgery as fact."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import leaf_hash
from .heads import HeadsFile
from .history import Basis
from .store import AuditStore
from .verify import find_fork, verify_entries


@dataclass(frozen=True)
class Checked:
    ok: bool
    up_to: int
    message_ru: str


def last_position_before(store: AuditStore, conn: sa.Connection, moment: datetime,
                         basis: Basis = "shown") -> int:
    """The last entry a replay as of ``moment`` on ``basis`` reads (see ``history``)."""
    t = store.entries
    bound = store._time_bound(moment)
    column = t.c.appended_at if basis == "shown" else t.c.business_at
    return int(conn.execute(sa.select(sa.func.max(t.c.position)).where(sa.or_(
        column <= bound, sa.and_(column.is_(None), t.c.occurred_at <= bound)))).scalar() or 0)


def check_up_to(store: AuditStore, conn: sa.Connection, up_to: int, heads_file: HeadsFile,
                public_key: Ed25519PublicKey | None,
                anchors: Sequence[tuple[int, bytes]] = ()) -> Checked:
    """The log's entries 1..``up_to`` checked; ``ok`` False with a plain message otherwise."""
    if up_to <= 0:
        return Checked(True, 0, "показывать нечего: проверять нечего")
    if public_key is None:
        return Checked(False, up_to, (
            f"НЕ ПРОВЕРЕНО: нет ключа, которым проверить подписи вершин, — показанное (записи "
            f"1–{up_to}) прочитано из базы как есть; укажите --public-key"))
    heads, issues = heads_file.checked(public_key)
    if issues:
        return Checked(False, up_to, f"НЕ ПРОВЕРЕНО: файл вершин повреждён ({issues[0].message_ru})")

    def rows():  # noqa: ANN202 - a generator of the store's rows
        return itertools.takewhile(lambda r: r[0] <= up_to, store._verify_rows(conn, 20000))

    result = verify_entries(rows(), checkpoints=[h for h in heads if h.size <= up_to])
    problem = result.problem
    if problem is None and anchors:
        problem = find_fork(((pos, leaf_hash(data)) for pos, data, _, _ in rows()),
                            [a for a in anchors if a[0] <= up_to])
    if problem is not None:
        return Checked(False, up_to, (
            f"ЖУРНАЛ НЕ ЦЕЛ в показанной части: {problem}. Показанное не подтверждено: оно "
            "могло быть подделано"))
    signed = max((h.size for h in heads if h.size <= up_to), default=0)
    tail = f"; записи {signed + 1}–{up_to} ещё не подписаны" if signed < up_to else ""
    witnessed = max((a[0] for a in anchors if a[0] <= up_to), default=0)
    by_witness = f", заверено свидетелем до {witnessed}" if anchors else ""
    return Checked(True, up_to, f"Журнал проверен до записи {up_to}: цел (подписано до "
                   f"{signed}{by_witness}){tail}")
