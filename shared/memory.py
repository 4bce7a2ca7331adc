"""The cyclic garbage collector held off during bulk work.

A full collection walks every tracked object of the process while holding the GIL: every
thread and the event loop stop for it. Saving 10,000 imported people keeps about a million
objects alive for a few seconds, and each time the young objects reach a quarter of the old
ones CPython walks them all again: in the heavy-upload test that was dozens of pauses of 100 to
500 ms, 6 s in all, and ``/auth/me`` at 300-600 ms p99. Objects of the bulk work are freed by
reference counting when it ends; cycles wait for the next collection, which comes once the last
pause is over. A pause is bounded by the work it wraps (an import is capped in rows and time).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection while any caller is inside (nestable, across threads)."""
    global _holders, _was_enabled
    with _lock:
        _holders += 1
        if _holders == 1:
            _was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()


#: Bulk work on worker threads takes turns (a bulk import's save, a consumer's batch, a relay's
#: signing, the dashboards' fold). Each is pure Python holding the GIL; several at once left the
#: event loop waiting behind all of them for the GIL several times per request (``/auth/me``
#: at 300-600 ms p99 while 10,000 imported people were saved and projected). One at a time,
#: the loop shares the GIL with a single thread and gets it back within the switch interval.
#: Re-entrant: bulk work that calls more bulk work on its own thread does not wait for itself.
_turn = threading.RLock()


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """Wait for the turn of bulk work, and hold the collector off while it runs."""
    with _turn, collector_paused():
        yield
