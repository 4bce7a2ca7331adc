"""Bulk work takes turns and holds the collector off while it runs (shared/memory.py)."""

from __future__ import annotations

import gc
import threading

from shared.memory import bulk_work, collector_paused


def test_the_collector_is_back_once_the_last_pause_ends() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with bulk_work(), bulk_work():  # re-entrant on one thread
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_bulk_work_of_two_threads_takes_turns() -> None:
    inside: list[str] = []
    overlap: list[bool] = []
    entered = threading.Event()
    release = threading.Event()

    def first() -> None:
        with bulk_work():
            inside.append("first")
            entered.set()
            release.wait(5)
            overlap.append("second" in inside)
            inside.remove("first")

    def second() -> None:
        with bulk_work():
            inside.append("second")

    one = threading.Thread(target=first)
    one.start()
    entered.wait(5)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.2)
    assert two.is_alive()  # waiting for its turn
    release.set()
    one.join(5)
    two.join(5)
    assert overlap == [False] and inside == ["second"]
    assert gc.isenabled()
