"""The one periodic loop and the one supervise policy every service's background work runs on."""

from __future__ import annotations

import asyncio
import threading

from shared.loops import periodic, supervise, wait_any

#: Upper bound for a test that should finish at once: a hang fails instead of blocking the suite.
PROMPTLY = 5.0


async def test_a_failing_step_is_retried() -> None:
    stop = asyncio.Event()
    calls: list[int] = []

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the store refused")
        stop.set()

    await asyncio.wait_for(periodic("test", step, 0, stop), PROMPTLY)
    assert calls == [0, 1]


async def test_a_plain_step_runs_in_a_worker_thread() -> None:
    stop = asyncio.Event()
    threads: list[threading.Thread] = []
    loop = asyncio.get_running_loop()

    def step() -> None:
        threads.append(threading.current_thread())
        loop.call_soon_threadsafe(stop.set)

    await asyncio.wait_for(periodic("test", step, 0, stop), PROMPTLY)
    assert threads and threads[0] is not threading.main_thread()


async def test_stop_ends_the_loop_while_it_waits() -> None:
    stop = asyncio.Event()
    ran = asyncio.Event()
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)
        ran.set()

    loop = asyncio.create_task(periodic("test", step, 3600, stop))
    await asyncio.wait_for(ran.wait(), PROMPTLY)
    stop.set()
    await asyncio.wait_for(loop, PROMPTLY)
    assert calls == [1]


async def test_a_stopped_loop_runs_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)

    await asyncio.wait_for(periodic("test", step, 0, stop), PROMPTLY)
    assert calls == []


async def test_wake_runs_the_step_before_its_interval() -> None:
    stop = asyncio.Event()
    wake = asyncio.Event()
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)
        stop.set()

    loop = asyncio.create_task(periodic("test", step, 3600, stop, wake, first_wait=True))
    wake.set()
    await asyncio.wait_for(loop, PROMPTLY)
    assert calls == [1]


async def test_supervise_starts_a_failed_run_again_until_it_returns() -> None:
    stop = asyncio.Event()
    runs: list[int] = []

    async def run(_: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ConnectionError("the database went away")

    await asyncio.wait_for(supervise("test", run, stop, retry_seconds=0), PROMPTLY)
    assert len(runs) == 3


async def test_supervise_ends_with_stop() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()

    async def run(until: asyncio.Event) -> None:
        started.set()
        await until.wait()

    supervised = asyncio.create_task(supervise("test", run, stop))
    await asyncio.wait_for(started.wait(), PROMPTLY)
    stop.set()
    await asyncio.wait_for(supervised, PROMPTLY)
    assert supervised.done() and supervised.exception() is None


async def test_wait_any_returns_when_one_event_is_set() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    second.set()
    await asyncio.wait_for(wait_any(first, second, timeout=3600), PROMPTLY)
    assert not first.is_set()
