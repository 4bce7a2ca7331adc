"""Heavy, pure work (parsing an upload) in a throwaway process with bounded memory and time.

Parsing a hostile spreadsheet in the server process froze every service for over a minute and
left it gigabytes larger: CPU-bound Python holds the GIL whatever thread it runs on, and freed
memory is seldom given back. So the parse runs in a fresh child interpreter whose address
space is capped with RLIMIT_AS and whose lifetime is capped by a wall clock that kills it; its
memory goes with it. Only the function's picklable result (or its exception) comes back.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.errors import DomainError

T = TypeVar("T")

#: At most this many parses at once: each may take its memory limit.
MAX_CONCURRENT_WORKERS = 2
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_WORKERS)


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    #: The child's whole address space (interpreter and libraries included, ~150 MB of it).
    memory_bytes: int = 1024 * 1024 * 1024
    timeout_seconds: float = 60.0
    #: Lower priority than the server, so a parse never takes CPU from requests on a small host.
    niceness: int = 10


DEFAULT_WORKER_LIMITS = WorkerLimits()


def too_heavy() -> DomainError:
    return DomainError("UPLOAD_TOO_HEAVY", "Файл отклонён: на его чтение нужно больше памяти, "
                       "чем допускается. Разделите данные на несколько файлов поменьше", 413)


def too_slow(seconds: float) -> DomainError:
    return DomainError("UPLOAD_TIMEOUT", f"Файл отклонён: его не удалось прочитать за {int(seconds)} с. "
                       "Разделите данные на несколько файлов поменьше", 413)


def unreadable() -> DomainError:
    return DomainError("UPLOAD_UNREADABLE", "Файл не удалось прочитать: он повреждён или "
                       "устроен необычно. Сохраните его заново и загрузите снова", 422)


def busy() -> DomainError:
    return DomainError("UPLOADS_BUSY", "Сервер занят разбором других файлов. "
                       "Повторите загрузку через минуту", 503)


def _child() -> None:
    """The worker's main: a call on stdin, its outcome on stdout, both pickled."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    fn, args, kwargs, limits = pickle.loads(stdin.read())
    try:
        os.nice(limits.niceness)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        outcome: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except MemoryError:
        outcome = ("memory", None)
    except BaseException as exc:  # the caller re-raises it: the parser's own refusal
        outcome = ("raise", exc)
    try:
        payload = pickle.dumps(outcome)
    except MemoryError:
        payload = pickle.dumps(("memory", None))
    except Exception:  # an exception that cannot travel is a file we cannot read
        payload = pickle.dumps(("unreadable", None))
    stdout.write(payload)
    stdout.flush()


def run_isolated(fn: Callable[..., T], *args: Any, limits: WorkerLimits = DEFAULT_WORKER_LIMITS,
                 **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a child process. It blocks the calling thread, so call it
    from a sync route or ``asyncio.to_thread``, never on the event loop. ``fn`` must be
    importable by name, its arguments and result picklable. Exceptions raised by ``fn`` are
    raised here; running out of memory or time is a :class:`DomainError` (413) in Russian."""
    if not _slots.acquire(timeout=limits.timeout_seconds):
        raise busy()
    try:
        return _run(fn, args, kwargs, limits)
    finally:
        _slots.release()


def _run(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
         limits: WorkerLimits) -> T:
    # A fresh interpreter rather than a fork: the server has threads (and their locks), and
    # multiprocessing's spawn would re-run the server's main module.
    process = subprocess.Popen(
        [sys.executable, "-c", "from shared.isolation import _child; _child()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    try:
        out, _ = process.communicate(pickle.dumps((fn, args, kwargs, limits)),
                                     timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        raise too_slow(limits.timeout_seconds) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if not out:  # died without a word: killed by the kernel, or a C library's malloc failed
        raise too_heavy() if process.returncode in (-9, -6, -11) else unreadable()
    status, value = pickle.loads(out)
    if status == "ok":
        return value  # type: ignore[no-any-return]
    if status == "raise":
        raise value
    raise too_heavy() if status == "memory" else unreadable()
