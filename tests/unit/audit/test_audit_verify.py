"""Streaming verification: every kind of tampering, naive and with recomputed hashes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.monitoring.audit.chain import ZERO_HASH, CompactRange, chain_next, leaf_hash, merkle_root
from services.monitoring.audit.records import _Checkpoint
from services.monitoring.audit.verify import (
    CHAIN_BROKEN,
    DELETED,
    EDITED,
    HEAD_INVALID,
    HEAD_MISMATCH,
    INSERTED,
    REORDERED,
    TRUNCATED,
    verify_entries,
)

Row = tuple[int, bytes, bytes, bytes]


@dataclass(frozen=True)
class Head:
    size: int
    root_hex: str
    chain_hex: str


def build(datas: list[bytes]) -> list[Row]:
    """Rows exactly as an honest writer (or an attacker recomputing hashes) stores them."""
    rows: list[Row] = []
    chain = ZERO_HASH
    for pos, data in enumerate(datas, start=1):
        leaf = leaf_hash(data)
        chain = chain_next(chain, leaf)
        rows.append((pos, data, leaf, chain))
    return rows


def heads_every(datas: list[bytes], step: int) -> list[Head]:
    heads = []
    acc = CompactRange()
    chain = ZERO_HASH
    for i, data in enumerate(datas, start=1):
        leaf = leaf_hash(data)
        acc.append(leaf)
        chain = chain_next(chain, leaf)
        if i % step == 0 or i == len(datas):
            heads.append(Head(i, acc.root().hex(), chain.hex()))
    return heads


DATA = [f'{{"n":{i},"payload":"событие {i}"}}'.encode() for i in range(1, 41)]


def test_clean_log_verifies() -> None:
    rows = build(DATA)
    heads = heads_every(DATA, 5)
    result = verify_entries(iter(rows), heads[-1], checkpoints=heads)
    assert result.ok, str(result)
    assert result.entries == 40
    assert result.root_hex == merkle_root([leaf_hash(d) for d in DATA]).hex()
    assert result.chain_hex == rows[-1][3].hex()
    assert result.signed_size == 40
    assert str(result).startswith("ЖУРНАЛ ЦЕЛ: записей 40")


def test_empty_log() -> None:
    result = verify_entries(iter([]))
    assert result.ok and result.entries == 0
    assert result.root_hex == merkle_root([]).hex()


def test_unsigned_tail_is_reported_in_summary() -> None:
    heads = heads_every(DATA[:30], 30)
    result = verify_entries(build(DATA), heads[-1])
    assert result.ok and result.signed_size == 30
    assert "без подписи последние 10" in str(result)


# ---- naive tampering: the stored hashes alone pin the row ------------------------------------

def test_edited_data() -> None:
    rows = build(DATA)
    pos, _, leaf, chain = rows[16]
    rows[16] = (pos, '{"n":17,"payload":"подделка"}'.encode(), leaf, chain)
    result = verify_entries(rows)
    assert not result.ok
    assert (result.problem.code, result.problem.position) == (EDITED, 17)
    assert "НАРУШЕНИЕ" in str(result) and "[EDITED] позиция 17" in str(result)


def test_deleted_row() -> None:
    rows = build(DATA)
    del rows[9]
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (DELETED, 10)


def test_duplicate_position_is_insertion() -> None:
    rows = build(DATA)
    rows.insert(12, rows[11])
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (INSERTED, 12)


def test_backwards_position_is_reordering() -> None:
    rows = build(DATA)
    rows[5], rows[6] = rows[6], rows[5]  # positions arrive 1..5,7,6 → gap first
    result = verify_entries(rows)
    assert result.problem.code == DELETED and result.problem.position == 6
    rows = build(DATA)
    rows.insert(8, rows[2])  # ..., 8, 3, 9 → position goes backwards
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (REORDERED, 9)


def test_chain_broken_when_only_leaf_recomputed() -> None:
    rows = build(DATA)
    forged = '{"n":21,"payload":"подделка"}'.encode()
    pos, _, _, chain = rows[20]
    rows[20] = (pos, forged, leaf_hash(forged), chain)
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (CHAIN_BROKEN, 21)


def test_swapped_whole_rows() -> None:
    rows = build(DATA)
    (p1, *r1), (p2, *r2) = rows[4], rows[14]
    rows[4], rows[14] = (p1, *r2), (p2, *r1)
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (REORDERED, 5)
    assert "15" in result.problem.message_ru


def test_swapped_data_only() -> None:
    rows = build(DATA)
    a, b = rows[3], rows[30]
    rows[3] = (a[0], b[1], a[2], a[3])
    rows[30] = (b[0], a[1], b[2], b[3])
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (REORDERED, 4)


def test_truncated_tail() -> None:
    heads = heads_every(DATA, 10)
    rows = build(DATA)[:33]
    result = verify_entries(rows, heads[-1], checkpoints=heads)
    assert (result.problem.code, result.problem.position) == (TRUNCATED, 34)
    assert result.signed_size == 30


def test_everything_truncated() -> None:
    heads = heads_every(DATA, 10)
    result = verify_entries([], heads[-1])
    assert (result.problem.code, result.problem.position) == (TRUNCATED, 1)


# ---- attacker recomputed every stored hash: only the signed heads catch it -------------------

@pytest.mark.parametrize("edit_at", [1, 7, 10, 11, 40])
def test_recomputed_edit_located_to_head_window(edit_at: int) -> None:
    heads = heads_every(DATA, 5)
    forged = list(DATA)
    forged[edit_at - 1] = b'{"forged":true}'
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert not result.ok
    window_start = (edit_at - 1) // 5 * 5 + 1
    assert result.problem.code == HEAD_MISMATCH
    assert result.problem.position == window_start  # first position after the last good head
    assert result.problem.position_to == window_start + 4
    assert result.problem.position <= edit_at <= result.problem.position_to


def test_recomputed_edit_exact_with_per_entry_heads() -> None:
    heads = heads_every(DATA, 1)
    forged = list(DATA)
    forged[22] = b'{"forged":true}'
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert (result.problem.code, result.problem.position) == (EDITED, 23)


@pytest.mark.parametrize("insert_at", [1, 6, 8, 10, 40])
def test_recomputed_insert_exact(insert_at: int) -> None:
    heads = heads_every(DATA, 5)
    forged = list(DATA)
    forged.insert(insert_at - 1, b'{"inserted":true}')
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    if insert_at == 40:
        # Inserted just before the last signed entry, lookahead exists (old #40 shifted to 41).
        assert (result.problem.code, result.problem.position) == (INSERTED, 40)
    else:
        assert (result.problem.code, result.problem.position) == (INSERTED, insert_at)


def test_recomputed_append_after_last_head_is_unsigned_not_tampering() -> None:
    heads = heads_every(DATA, 5)
    result = verify_entries(build(DATA + [b'{"late":1}']), heads[-1], checkpoints=heads)
    assert result.ok and result.signed_size == 40 and result.entries == 41


@pytest.mark.parametrize(("i", "j"), [(1, 2), (12, 14), (16, 20), (36, 40)])
def test_recomputed_swap_exact(i: int, j: int) -> None:
    heads = heads_every(DATA, 5)
    forged = list(DATA)
    forged[i - 1], forged[j - 1] = forged[j - 1], forged[i - 1]
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert (result.problem.code, result.problem.position) == (REORDERED, i)
    assert str(j) in result.problem.message_ru


def test_recomputed_swap_across_heads_is_located_to_window() -> None:
    heads = heads_every(DATA, 5)
    forged = list(DATA)
    forged[7], forged[27] = forged[27], forged[7]
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert result.problem.position == 6 and result.problem.position_to == 10


def test_recomputed_delete_is_caught() -> None:
    heads = heads_every(DATA, 5)
    forged = list(DATA)
    del forged[17]  # renumbered and recomputed: no gap left in positions
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert not result.ok
    assert result.problem.position == 16 and result.problem.position_to == 20


def test_sparse_heads_beyond_window_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.monitoring.audit.verify as verify_mod

    monkeypatch.setattr(verify_mod, "MAX_WINDOW", 3)
    heads = heads_every(DATA, 20)
    forged = list(DATA)
    forged[25] = b"x"
    result = verify_mod.verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        HEAD_MISMATCH, 21, 40
    )


def test_streaming_large_log_constant_memory() -> None:
    datas = (f"event-{i}".encode() for i in range(50_000))

    def rows():  # generator: verify never holds the log
        chain = ZERO_HASH
        for pos, data in enumerate(datas, start=1):
            leaf = leaf_hash(data)
            chain = chain_next(chain, leaf)
            yield pos, data, leaf, chain

    result = verify_entries(rows())
    assert result.ok and result.entries == 50_000


# ---- a signed head of size 0 (an empty log signed right after deployment) ---------------------

EMPTY_HEAD = Head(0, merkle_root([]).hex(), ZERO_HASH.hex())


def test_size_zero_head_keeps_every_later_head_checked() -> None:
    heads = [EMPTY_HEAD, *heads_every(DATA, 5)]
    assert verify_entries(build(DATA), heads[-1], checkpoints=heads).signed_size == 40
    forged = list(DATA)
    forged[17] = b'{"forged":true}'
    result = verify_entries(build(forged), heads[-1], checkpoints=heads)
    assert not result.ok
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        HEAD_MISMATCH, 16, 20)


def test_size_zero_head_alone_still_checks_the_next_checkpoint() -> None:
    # The store passes its unsigned state row as a checkpoint too: it must still be compared.
    state = heads_every(DATA, 40)[-1]
    forged = list(DATA)
    forged[3] = b'{"forged":true}'
    result = verify_entries(build(forged), checkpoints=[EMPTY_HEAD, state])
    assert not result.ok and result.problem.code == HEAD_MISMATCH


def test_size_zero_head_must_commit_to_the_empty_log() -> None:
    wrong = Head(0, heads_every(DATA, 1)[0].root_hex, ZERO_HASH.hex())
    result = verify_entries(build(DATA), checkpoints=[wrong])
    assert not result.ok
    assert (result.problem.code, result.problem.position) == (HEAD_INVALID, 0)
    assert "размера 0" in result.problem.message_ru
    assert verify_entries([], checkpoints=[EMPTY_HEAD]).ok


# ---- naive insertion: rows shifted by one, the new row's hashes not chained -------------------

def shifted_insert(rows: list[Row], at: int, inserted: list[tuple[bytes, bytes, bytes]]) -> list[Row]:
    """Insert raw (data, leaf, chain) rows before position `at` and renumber the rest, leaving
    every stored hash as it was: what an UPDATE position = position + 1 plus an INSERT does."""
    out = rows[: at - 1] + [(0, *r) for r in inserted] + rows[at - 1 :]
    return [(pos, data, leaf, chain) for pos, (_, data, leaf, chain) in enumerate(out, start=1)]


FOREIGN = b'{"inserted":true}'


@pytest.mark.parametrize("hashes", ["zeros", "own leaf, wrong chain", "copied from displaced row",
                                    "chained as if next"])
@pytest.mark.parametrize("at", [1, 9, 40])
def test_naive_insertion_is_inserted(hashes: str, at: int) -> None:
    rows = build(DATA)
    displaced = rows[at - 1]
    prev_chain = rows[at - 2][3] if at > 1 else ZERO_HASH
    leaf = leaf_hash(FOREIGN)
    inserted = {
        "zeros": (FOREIGN, ZERO_HASH, ZERO_HASH),
        "own leaf, wrong chain": (FOREIGN, leaf, b"\x07" * 32),
        "copied from displaced row": (FOREIGN, displaced[2], displaced[3]),
        # Correctly chained after its predecessor: the row after it then no longer links.
        "chained as if next": (FOREIGN, leaf, chain_next(prev_chain, leaf)),
    }[hashes]
    result = verify_entries(shifted_insert(rows, at, [inserted]))
    assert not result.ok
    assert (result.problem.code, result.problem.position) == (INSERTED, at), str(result)


def test_naive_insertion_of_several_rows_names_the_range() -> None:
    rows = build(DATA)
    extra = [(FOREIGN, ZERO_HASH, ZERO_HASH), (b'{"second":1}', ZERO_HASH, ZERO_HASH)]
    result = verify_entries(shifted_insert(rows, 12, extra))
    assert (result.problem.code, result.problem.position, result.problem.position_to) == (
        INSERTED, 12, 13)


def test_naive_copy_of_an_earlier_row_inserted_is_inserted() -> None:
    rows = build(DATA)
    copy = rows[2]  # row 3, hashes and all, slipped in again before row 20
    result = verify_entries(shifted_insert(rows, 20, [copy[1:]]))
    assert (result.problem.code, result.problem.position) == (INSERTED, 20)


@pytest.mark.parametrize(("i", "j"), [(7, 8), (1, 2), (39, 40), (5, 15)])
def test_naive_whole_row_swap_is_still_reordered(i: int, j: int) -> None:
    rows = build(DATA)
    (p1, *r1), (p2, *r2) = rows[i - 1], rows[j - 1]
    rows[i - 1], rows[j - 1] = (p1, *r2), (p2, *r1)
    result = verify_entries(rows)
    assert (result.problem.code, result.problem.position) == (REORDERED, i), str(result)
    assert str(j) in result.problem.message_ru


@pytest.mark.parametrize(("old", "new"), [(30, 6), (6, 30)])
def test_naive_move_of_a_row_is_reordered_not_inserted(old: int, new: int) -> None:
    rows = build(DATA)
    moved = rows.pop(old - 1)
    rows.insert(new - 1, moved)
    rows = [(pos, *r[1:]) for pos, r in enumerate(rows, start=1)]
    result = verify_entries(rows)
    assert result.problem.code == REORDERED, str(result)
    assert result.problem.position == min(old, new)


def test_a_row_deleted_and_the_rest_renumbered_is_named_deleted_where_it_was() -> None:
    rows = build(DATA)
    acc = CompactRange()
    for r in rows:
        acc.append(r[2])
    head = _Checkpoint(len(rows), acc.root().hex(), rows[-1][3].hex())
    renumbered = rows[:6] + [(p - 1, d, leaf, c) for p, d, leaf, c in rows[7:]]
    result = verify_entries(renumbered, checkpoints=[head])
    assert (result.problem.code, result.problem.position) == (DELETED, 7), str(result)
