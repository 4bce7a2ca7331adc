"""Streaming verification of the audit log: walks the entries once, recomputes leaves, chain and
Merkle frontier, checks them against signed heads and names the first damaged position and the
kind of tampering (edited, deleted, inserted, reordered, truncated).

Pure like ``chain``: the same walk verifies a database, an export file or a test fixture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .chain import EMPTY_ROOT, ZERO_HASH, CompactRange, chain_next, chain_over, leaf_hash

_sha256 = hashlib.sha256  # local alias: attribute lookup matters at 1M rows/s


class Checkpoint(Protocol):
    """What the verifier needs from a (signature-checked) head; ``SignedHead`` fits."""

    @property
    def size(self) -> int: ...

    @property
    def root_hex(self) -> str: ...

    @property
    def chain_hex(self) -> str: ...


EDITED = "EDITED"
CHAIN_BROKEN = "CHAIN_BROKEN"
DELETED = "DELETED"
INSERTED = "INSERTED"
REORDERED = "REORDERED"
TRUNCATED = "TRUNCATED"
HEAD_MISMATCH = "HEAD_MISMATCH"
HEAD_INVALID = "HEAD_INVALID"
HEADS_MISSING = "HEADS_MISSING"  # heads the store or the log's age says exist are not in the file
FORKED = "FORKED"  # the log no longer extends a checkpoint a witness (or the auditor) holds
STALE = "STALE"  # older than a checkpoint the auditor already verified
UNPROVEN = "UNPROVEN"  # no proof at hand that the log extends a checkpoint the auditor holds


@dataclass(frozen=True)
class Problem:
    position: int
    code: str
    message_ru: str
    # Set when only a range can be named: a rewrite with recomputed hashes is pinned no finer
    # than the gap between two signed heads.
    position_to: int | None = None

    def __str__(self) -> str:
        where = f"{self.position}" if self.position_to is None else (
            f"{self.position}–{self.position_to}"
        )
        return f"[{self.code}] позиция {where}: {self.message_ru}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    root_hex: str
    chain_hex: str
    problem: Problem | None = None
    signed_size: int = 0  # entries covered by the largest signed head that was checked
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        if self.ok:
            tail = self.entries - self.signed_size
            unsigned = f", без подписи последние {tail}" if tail > 0 else ""
            return (
                f"ЖУРНАЛ ЦЕЛ: записей {self.entries}, корень {self.root_hex[:16]}…, "
                f"цепочка {self.chain_hex[:16]}…, подписано {self.signed_size}{unsigned}"
            )
        return f"НАРУШЕНИЕ ЦЕЛОСТНОСТИ: {self.problem} (проверено записей: {self.entries})"


# Classifying a head mismatch replays the window between two heads; bounded so a huge gap
# between heads cannot blow up memory or time (insert search is O(w^2), swap O(w^3)).
MAX_WINDOW = 4096
MAX_INSERT_SEARCH = 1024
MAX_SWAP_SEARCH = 64


def _msg(code: str, position: int, extra: str = "") -> str:
    base = {
        EDITED: f"запись {position} изменена: её содержимое не совпадает с сохранённым хэшем",
        CHAIN_BROKEN: f"цепочка хэшей разорвана на записи {position}",
        DELETED: f"запись {position} удалена",
        INSERTED: f"запись {position} вставлена задним числом",
        REORDERED: f"запись {position} переставлена",
        TRUNCATED: f"хвост журнала удалён начиная с записи {position}",
        HEAD_MISMATCH: "записи не совпадают с подписанной вершиной журнала "
        "(изменены с пересчётом хэшей)",
    }[code]
    return f"{base}{extra}"


def _classify_window(
    base_chain: bytes,
    window: list[bytes],
    first_pos: int,
    target_chain: bytes,
    lookahead: bytes | None,
) -> tuple[str, int, int | None, str]:
    """Explain a head mismatch whose window [first_pos, first_pos+len(window)) was rewritten
    with recomputed hashes, by testing which simple change reproduces the signed chain."""
    w = len(window)
    end_pos = first_pos + w - 1
    # Insertion at p shifts the original entries right by one: dropping p and taking the next
    # row reproduces the signed chain.
    if lookahead is not None and w <= MAX_INSERT_SEARCH:
        shifted = window + [lookahead]
        prefix = base_chain
        for p in range(w):
            if chain_over(shifted[p + 1 :], prefix) == target_chain:
                pos = first_pos + p
                return INSERTED, pos, None, _msg(INSERTED, pos, " (хэши пересчитаны)")
            prefix = chain_next(prefix, shifted[p])
    if w <= MAX_SWAP_SEARCH:
        prefix = base_chain
        for i in range(w):
            for j in range(i + 1, w):
                h = chain_next(prefix, window[j])
                h = chain_over(window[i + 1 : j], h)
                h = chain_next(h, window[i])
                h = chain_over(window[j + 1 :], h)
                if h == target_chain:
                    pos = first_pos + i
                    return REORDERED, pos, None, _msg(
                        REORDERED, pos, f" (поменяна местами с записью {first_pos + j}, "
                        "хэши пересчитаны)"
                    )
            prefix = chain_next(prefix, window[i])
    if w == 1:
        return EDITED, first_pos, None, _msg(
            EDITED, first_pos, " (хэши пересчитаны; расхождение с подписанной вершиной)"
        )
    return HEAD_MISMATCH, first_pos, end_pos, _msg(
        HEAD_MISMATCH, first_pos,
        f": первая расходящаяся запись находится в диапазоне {first_pos}–{end_pos}, "
        f"последняя совпавшая подписанная вершина — размер {first_pos - 1}",
    )


class _Misplaced:
    """Refines a row-local problem at ``pos`` by reading the rest of the log.

    The stored hashes of a row are evidence of where it was written: its chain hash commits to
    the row it was appended after. So a later intact row that links to the chain *before* the
    bad row shows the log used to continue there: either the bad row and that one were swapped
    (the bad row links after the follower's predecessor), or the bad row was moved from
    elsewhere (some row of the log is its predecessor), or, when neither, the rows from ``pos``
    up to the follower were slipped in. A bad row that itself links two rows back shows the row
    before it was slipped in with its own hashes computed and the later ones left alone.
    """

    __slots__ = ("pos", "code", "data_leaf", "leaf", "chain", "prev", "prev2", "follower",
                 "after", "chain_edited", "short")

    def __init__(self, pos: int, code: str, data_leaf: bytes, leaf: bytes, chain: bytes,
                 prev: bytes, prev2: bytes | None) -> None:
        self.pos, self.code, self.data_leaf = pos, code, data_leaf
        self.leaf, self.chain = leaf, chain  # as stored on the bad row
        self.prev, self.prev2 = prev, prev2  # stored chain of the rows before it
        self.follower: int | None = None  # first later row written right after row pos-1
        self.after: int | None = None  # the row the bad row was written after
        self.chain_edited = False  # the next row links after this row's true chain hash
        self.short = False  # the log ended short of its largest head

    def _links_after(self, chain: bytes) -> bool:
        return self.data_leaf == self.leaf and _sha256(chain + self.leaf).digest() == self.chain

    def _moved(self) -> Problem:
        return Problem(self.pos, REORDERED, _msg(
            REORDERED, self.pos, f" (перенесена: в журнале она шла после записи, что теперь на "
            f"позиции {self.after})"))

    def see(self, pos: int, data: bytes, leaf: bytes, chain: bytes) -> Problem | None:
        """A later row; returns the refined problem once it is certain."""
        bad = self.pos
        if pos == bad + 1 and self.code == CHAIN_BROKEN and _sha256(
                _sha256(self.prev + self.leaf).digest() + leaf).digest() == chain:
            self.chain_edited = True  # only the stored chain hash of the bad row was changed
        # Contents swapped, hashes left in place: the bad row's true leaf shows up later.
        if self.code == EDITED and leaf == self.data_leaf:
            return Problem(bad, REORDERED, _msg(REORDERED, bad, f" (поменяна местами с записью {pos})"))
        follows = (self.follower is None and _sha256(self.prev + leaf).digest() == chain
                   and _sha256(b"\x00" + data).digest() == leaf)
        if follows:
            # The log used to go on with this row right after row bad-1. The bad row swapped
            # with it was written after the row before it (after this very row when adjacent).
            if (pos == bad + 1 and self._links_after(chain)) or (
                    self.after is not None and self.after == pos - 1):
                return Problem(bad, REORDERED, _msg(REORDERED, bad,
                                                    f" (поменяна местами с записью {pos})"))
            self.follower = pos
        if self.after is not None and pos == self.after + 1:
            return self._moved()  # its predecessor was found and no swap partner follows it
        if self.after is None and self._links_after(chain):
            self.after = pos
            if self.follower is not None:
                return self._moved()
        return None

    def done(self, problem: Problem) -> Problem:
        """The log ended with nothing certain: name an insertion if the hashes show one."""
        bad = self.pos
        if self.after is not None:
            return self._moved()
        if self.follower is not None:
            last = self.follower - 1
            if last == bad:
                return Problem(bad, INSERTED, _msg(INSERTED, bad, " (следующие записи сдвинуты "
                                                   "на одну, хэши не пересчитаны)"))
            return Problem(bad, INSERTED, _msg(INSERTED, bad, f" (вставлены записи {bad}–{last}, "
                                               "следующие сдвинуты, хэши не пересчитаны)"), last)
        if (self.code == CHAIN_BROKEN and self.prev2 is not None
                and self._links_after(self.prev2)):
            return Problem(bad - 1, INSERTED, _msg(INSERTED, bad - 1, f" (запись {bad} в журнале "
                                                   f"шла сразу после записи {bad - 2})"))
        if (self.code == CHAIN_BROKEN and not self.chain_edited and self.data_leaf == self.leaf
                and self.short):
            # An intact row written after a row that is no longer there, nothing in the log to
            # explain it, and the log one row short of its heads: a row was deleted before it
            # and the rest renumbered (a leaf recomputed in place leaves the length alone).
            return Problem(bad, DELETED, _msg(DELETED, bad, "; следующие записи перенумерованы"))
        return problem


def verify_entries(
    rows: Iterable[tuple[int, bytes, bytes, bytes]],
    expected_head: Checkpoint | None = None,
    *,
    checkpoints: Iterable[Checkpoint] = (),
) -> VerifyResult:
    """Stream-verify ``(position, entry_bytes, stored_leaf_hash, stored_chain_hash)`` rows.

    Heads passed here must already be signature-checked (see ``heads.verify_head``).

    Detection layers, first problem by position wins:

    1. Row-local (no external data): gap → DELETED, repeated position → INSERTED, decreasing
       position → REORDERED, bytes ≠ stored leaf → EDITED, stored chain link broken →
       CHAIN_BROKEN. After a local problem the scan continues only to refine the code: the
       stored chain hashes tell where each row was written, so a swap, a move or rows slipped in
       with the rest shifted by one are named as such (see ``_Misplaced``).
    2. Signed heads (outside the DB) catch a rewrite whose stored hashes were recomputed: at each
       head size the computed chain/root must match. The divergence lies after the last
       matching head; an insertion or a swap inside that window is located exactly by replay.
       A head of size 0 commits to the empty log and is checked before the first row.
    3. A log shorter than the largest signed head → TRUNCATED at size+1.
    """
    heads: dict[int, Checkpoint] = {}
    for cp in list(checkpoints) + ([expected_head] if expected_head is not None else []):
        heads[cp.size] = cp
    head_sizes = sorted(heads)
    max_head = head_sizes[-1] if head_sizes else 0

    problem: Problem | None = None
    # Heads below the first position cannot be met in the scan: a size-0 head is the empty
    # log, whose root and chain are fixed; the cursor then starts at the first real size.
    next_idx = 0
    while next_idx < len(head_sizes) and head_sizes[next_idx] < 1:
        cp = heads[head_sizes[next_idx]]
        if problem is None and (cp.size != 0 or cp.root_hex != EMPTY_ROOT.hex()
                                or cp.chain_hex != ZERO_HASH.hex()):
            problem = Problem(0, HEAD_INVALID, f"подписанная вершина размера {cp.size} не "
                              "совпадает с пустым журналом: такую вершину нельзя было подписать "
                              "честно")
        next_idx += 1
    next_head = head_sizes[next_idx] if next_idx < len(head_sizes) else -1

    acc = CompactRange()
    chain = ZERO_HASH  # computed chain over computed leaves
    prev_stored_chain = ZERO_HASH
    prev2_stored_chain: bytes | None = None  # the one before it (None before row 2)
    expected_pos = 1
    last_pos = 0
    count = 0
    signed_size = 0

    base_chain = ZERO_HASH  # chain at the last matching head
    window: list[bytes] | None = [] if head_sizes else None

    # Refinement state after a local problem.
    misplaced: _Misplaced | None = None
    pending_head: tuple[int, bytes] | None = None  # (head size, target chain) awaiting lookahead

    rows_seen = 0
    for pos, data, stored_leaf, stored_chain in (rows if problem is None else ()):
        rows_seen += 1
        if pending_head is not None:
            size, target = pending_head
            assert window is not None
            code, p, p_to, msg = _classify_window(
                base_chain, window, size - len(window) + 1, target, leaf_hash(data)
            )
            problem = Problem(p, code, msg, p_to)
            break

        if problem is not None:
            # Only refining a local problem: where does the bad row, or the rest, belong?
            if misplaced is not None:
                refined = misplaced.see(pos, data, bytes(stored_leaf), bytes(stored_chain))
                if refined is not None:
                    problem, misplaced = refined, None
                    break
            continue

        if pos != expected_pos:
            if pos > expected_pos:
                problem = Problem(expected_pos, DELETED, _msg(DELETED, expected_pos))
            elif pos == last_pos:
                problem = Problem(pos, INSERTED, _msg(INSERTED, pos, " (повтор номера позиции)"))
            else:
                problem = Problem(
                    expected_pos, REORDERED,
                    _msg(REORDERED, expected_pos, f" (после позиции {last_pos} идёт {pos})"),
                )
            break

        leaf = _sha256(b"\x00" + data).digest()
        stored_leaf = bytes(stored_leaf)
        stored_chain = bytes(stored_chain)
        if leaf != stored_leaf:
            problem = Problem(pos, EDITED, _msg(EDITED, pos))
            misplaced = _Misplaced(pos, EDITED, leaf, stored_leaf, stored_chain,
                                   prev_stored_chain, prev2_stored_chain)
            last_pos = pos
            continue
        link = _sha256(prev_stored_chain + stored_leaf).digest()
        if link != stored_chain:
            problem = Problem(pos, CHAIN_BROKEN, _msg(CHAIN_BROKEN, pos))
            misplaced = _Misplaced(pos, CHAIN_BROKEN, leaf, stored_leaf, stored_chain,
                                   prev_stored_chain, prev2_stored_chain)
            last_pos = pos
            continue

        prev2_stored_chain = prev_stored_chain
        prev_stored_chain = stored_chain
        chain = _sha256(chain + leaf).digest()
        acc.append(leaf)
        count += 1
        last_pos = pos
        expected_pos = pos + 1
        if window is not None:
            if len(window) < MAX_WINDOW:
                window.append(leaf)
            else:
                window = None  # too far from any head to replay; fall back to a range report

        if pos == next_head:
            cp = heads[pos]
            if chain.hex() == cp.chain_hex and acc.root().hex() == cp.root_hex:
                signed_size = pos
                base_chain = chain
                window = []
            else:
                target = bytes.fromhex(cp.chain_hex)
                if window is None:
                    first = signed_size + 1
                    problem = Problem(
                        first, HEAD_MISMATCH,
                        _msg(HEAD_MISMATCH, first,
                             f": первая расходящаяся запись в диапазоне {first}–{pos}"),
                        pos,
                    )
                    break
                pending_head = (pos, target)
            # Sizes are distinct and positions advance by one, so this moves one step; it is
            # written as "past everything reached" so no head can ever stall the cursor.
            while next_idx < len(head_sizes) and head_sizes[next_idx] <= pos:
                next_idx += 1
            next_head = head_sizes[next_idx] if next_idx < len(head_sizes) else -1

    if misplaced is not None and problem is not None:
        misplaced.short = 0 < rows_seen < max_head
        problem = misplaced.done(problem)

    if problem is None and pending_head is not None:
        size, target = pending_head
        assert window is not None
        code, p, p_to, msg = _classify_window(
            base_chain, window, size - len(window) + 1, target, None
        )
        problem = Problem(p, code, msg, p_to)

    if problem is None and max_head > last_pos:
        problem = Problem(
            last_pos + 1, TRUNCATED,
            _msg(TRUNCATED, last_pos + 1, f" (подписано записей: {max_head}, в журнале: "
                 f"{last_pos})"),
        )

    return VerifyResult(
        ok=problem is None,
        entries=count,
        root_hex=acc.root().hex(),
        chain_hex=chain.hex(),
        problem=problem,
        signed_size=signed_size,
    )


def find_fork(
    leaves: Iterable[tuple[int, bytes]], checkpoints: Iterable[tuple[int, bytes]]
) -> Problem | None:
    """The first checkpoint ``(size, root)`` the log's leaves no longer reach.

    ``leaves`` are ``(position, leaf hash)`` recomputed from the entries' bytes, in order from
    position 1. A rewrite with every stored hash recomputed and every head re-signed still
    diverges from a checkpoint held outside the log (a witness's): the first bad position lies
    after the last checkpoint that matches and at or before the first that does not, so it is
    named exactly when checkpoints are dense and as a range otherwise. A log shorter than a
    checkpoint lost its tail (TRUNCATED)."""
    wanted = sorted({size: root for size, root in checkpoints}.items())
    acc = CompactRange()
    ok_size = 0
    i = 0
    while i < len(wanted) and wanted[i][0] == 0:
        i += 1  # every log extends the empty tree
    for pos, leaf in leaves:
        if i >= len(wanted):
            break
        acc.append(leaf)
        if pos != acc.size:
            return Problem(acc.size, DELETED, _msg(DELETED, acc.size))
        size, root = wanted[i]
        if pos == size:
            if acc.root() != root:
                first = ok_size + 1
                where = f"запись {first}" if first == size else f"записи {first}–{size}"
                return Problem(first, FORKED, (
                    f"журнал расходится с заверенной контрольной точкой размера {size}: "
                    f"{where} переписан{'а' if first == size else 'ы'} после заверения (развилка; "
                    f"последняя совпавшая контрольная точка — размер {ok_size})"),
                    None if first == size else size)
            ok_size = size
            i += 1
    if i < len(wanted):
        size = wanted[i][0]
        return Problem(acc.size + 1, TRUNCATED, _msg(
            TRUNCATED, acc.size + 1, f" (заверено записей: {size}, в журнале: {acc.size})"))
    return None
