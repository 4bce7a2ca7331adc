"""Background loops: one periodic loop and one supervise policy for every service.

A service's background work is either a step repeated on a clock (and on a wake-up), or a
long-running coroutine that must come back when something it does not handle (a database
refusal) ends it. Both stop when ``stop`` is set, and neither lets one failure end it for good:
a loop that died silently would stall a relay or a read model with ``/health`` still ``ok``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)

Step = Callable[[], Any]


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Until one of ``events`` is set, or ``timeout`` seconds have passed."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def periodic(name: str, step: Step, interval: float, stop: asyncio.Event,
                   wake: asyncio.Event | None = None, *, first_wait: bool = False) -> None:
    """Run ``step`` now (or after one interval when ``first_wait``), then every ``interval``
    seconds or as soon as ``wake`` is set, until ``stop``.

    A plain function runs in a worker thread, so a blocking store call never blocks the event
    loop; a coroutine function is awaited. A failing step is logged and tried again next round:
    whatever it was doing is still to be done (an inbox row, an unpublished event).
    """
    events = (stop,) if wake is None else (stop, wake)
    if first_wait:
        await wait_any(*events, timeout=interval)
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        try:
            if inspect.iscoroutinefunction(step):
                await step()
            else:
                await asyncio.to_thread(step)
        except Exception as exc:  # noqa: BLE001 - the next round retries; a dead loop stalls silently
            log.warning("loop.step_failed", loop=name, error=repr(exc))
        await wait_any(*events, timeout=interval)


async def supervise(name: str, run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                    retry_seconds: float = 1.0) -> None:
    """Keep ``run(stop)`` running until ``stop``: when it raises, log and start it again.

    Consumers and relays resume from their committed position, so a restart repeats nothing.
    """
    while not stop.is_set():
        try:
            await run(stop)
        except Exception as exc:  # noqa: BLE001 - a dead consumer would stall its read model
            log.error("loop.restarted", loop=name, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
        else:
            return
