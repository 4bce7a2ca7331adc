"""Passwords of the registry's accounts: argon2id hashes and constant-time checks.

What a new password must be is ``password_policy.py``, checked where a password is set."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.settings import Settings

#: argon2id at OWASP's Password Storage Cheat Sheet floor (19 MiB, 2 passes, 1 lane). Measured
#: on the 2-core machine of issue 24, one hash costs ~25 ms of CPU against ~175 ms for the
#: library's default RFC 9106 "low memory" profile (64 MiB, 3 passes, 4 lanes): sign-in goes from
#: ~7 to over 33 per second on one hashing thread, and hashes at once hold 19 MiB each, not 64.
#: OWASP's other equivalents trade memory for passes (12 MiB x 3, 9 MiB x 4) at about the same
#: CPU: the most memory of them is kept, since memory is what a guessing GPU lacks. Hashes made
#: with other parameters still verify and are remade with these at the next sign-in
#: (``password_needs_rehash``). ``benchmarks/workflow.py`` measures sign-in and account creation.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PASSES = 2
ARGON2_LANES = 1
_HASHER = PasswordHasher(time_cost=ARGON2_PASSES, memory_cost=ARGON2_MEMORY_KIB,
                         parallelism=ARGON2_LANES)
T = TypeVar("T")
MAX_PASSWORD_LENGTH = 256


def hashing_slots(configured: int | None = None) -> int:
    """How many hashes may run at once: configured (``login_hash_concurrency``), else one fewer
    than this process's CPU cores (at least one), so a flood of sign-ins leaves a core to every
    other request."""
    if configured is None:
        configured = Settings().login_hash_concurrency
    if configured > 0:
        return configured
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


def _lower_priority(nice: int) -> None:
    """Hashing threads yield the CPU to the process's other threads (Linux: a nice value per
    thread), so the requests that need no hash keep their latency while sign-ins queue. The
    price: on a machine busy with other processes a niced thread gets little CPU, and sign-ins
    wait for it (``login_hash_nice``; 0 turns it off)."""
    if nice <= 0:
        return
    # Not Linux, or not allowed: the few threads still bound the hashing.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


@lru_cache(maxsize=1)
def _hashing() -> ThreadPoolExecutor:
    """Each argon2 hash takes 19 MiB and ~17 ms of CPU: it runs on one of these few threads, and
    beyond them hashes wait their turn."""
    settings = Settings()
    return ThreadPoolExecutor(max_workers=hashing_slots(settings.login_hash_concurrency),
                              thread_name_prefix="argon2", initializer=_lower_priority,
                              initargs=(settings.login_hash_nice,))


def _hashed(work: Callable[[], T]) -> T:
    """``work`` run on a hashing thread; the caller waits for it."""
    return _hashing().submit(work).result()


def hash_password(password: str) -> str:
    return _hashed(lambda: _HASHER.hash(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists: an unknown login hashes a dummy."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    dummy = _dummy_hash()  # before: it takes a hashing thread itself the first time
    try:
        return _hashed(lambda: _HASHER.verify(stored_hash or dummy, password)) \
            and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hashed(lambda: _HASHER.hash("no-such-account-dummy-password"))
