"""The worker process that parses uploads: results and refusals come back, excess is killed."""

from __future__ import annotations

import os
import threading

import pytest

from shared.errors import DomainError
from shared.isolation import WorkerLimits, run_isolated


def child_pid(offset: int) -> int:
    return os.getpid() + offset


def refuse(message: str) -> None:
    raise ValueError(message)


def hog_memory() -> int:
    return len(bytearray(2 * 1024 * 1024 * 1024))


def hang() -> None:
    threading.Event().wait()


def test_the_result_comes_back_from_another_process() -> None:
    assert run_isolated(child_pid, 0) != os.getpid()


def test_the_functions_own_refusal_is_raised_here() -> None:
    with pytest.raises(ValueError, match="плохой файл"):
        run_isolated(refuse, "плохой файл")


def test_too_much_memory_is_refused_with_413() -> None:
    with pytest.raises(DomainError) as refused:
        run_isolated(hog_memory, limits=WorkerLimits(memory_bytes=512 * 1024 * 1024))
    assert (refused.value.code, refused.value.status) == ("UPLOAD_TOO_HEAVY", 413)


def test_a_worker_past_its_time_is_killed_and_refused() -> None:
    with pytest.raises(DomainError) as refused:
        run_isolated(hang, limits=WorkerLimits(timeout_seconds=1.0))
    assert (refused.value.code, refused.value.status) == ("UPLOAD_TIMEOUT", 413)
    assert "не удалось прочитать за 1 с" in refused.value.message
