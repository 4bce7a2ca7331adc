"""Passwords of the registry's accounts: argon2id hashes, a strength floor, constant-time checks."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.errors import DomainError

# argon2id with the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def hashing_slots(configured: int = 0) -> int:
    """How many hashes may run at once: configured, else one fewer than this process's CPU cores
    (at least one), so a flood of sign-ins leaves a core to every other request."""
    if configured > 0:
        return configured
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


#: Each argon2 hash takes 64 MiB and ~0.2 s of CPU: beyond the slots, hashes wait their turn.
_SLOTS = threading.BoundedSemaphore(hashing_slots())


def hash_password(password: str) -> str:
    check_password_strength(password)
    with _SLOTS:
        return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists: an unknown login hashes a dummy."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    dummy = _dummy_hash()  # computed before taking a slot: it takes one itself the first time
    try:
        with _SLOTS:
            return _HASHER.verify(stored_hash or dummy, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    with _SLOTS:
        return _HASHER.hash("no-such-account-dummy-password")


def check_password_strength(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise DomainError("WEAK_PASSWORD", f"Пароль должен быть длиной от {MIN_PASSWORD_LENGTH} "
                          f"до {MAX_PASSWORD_LENGTH} символов", 422)
    if len(set(password)) < 4:
        raise DomainError("WEAK_PASSWORD", "Пароль слишком простой", 422)
