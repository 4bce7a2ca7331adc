"""Retries with exponential back-off and jitter (tenacity) for the connections a service needs.

A service started before its NATS cluster or its PostgreSQL is up (a region booting, a pod
rescheduled) waits for them rather than crashing in a loop; past the deadline it gives up and
lets the orchestrator restart it, so a misconfiguration is still loud.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import eventsourcing.persistence as es
import nats.errors
import psycopg
import sqlalchemy as sa
from tenacity import (
    AsyncRetrying,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from shared.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

#: What a dead, restarting or not-yet-elected NATS server raises.
NATS_TRANSIENT: tuple[type[BaseException], ...] = (
    nats.errors.Error, OSError, TimeoutError, ConnectionError,
)
#: What a restarting PostgreSQL (or a locked SQLite file) raises.
STORE_TRANSIENT: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, OSError, TimeoutError, ConnectionError,
)
#: What a database that cannot answer now raises through each layer that talks to it (SQLAlchemy
#: for read models, eventsourcing for event stores, psycopg and its pool beneath both). A request
#: that meets one has changed nothing and may simply be sent again.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError,
    es.OperationalError, es.InterfaceError, es.ConnectionUnavailableError,
    psycopg.OperationalError, psycopg.InterfaceError,
)


class _StdLogger:
    """tenacity logs through a stdlib-style logger; ours is structlog."""

    def __init__(self, what: str) -> None:
        self.what = what

    def log(self, level: int, msg: str, *args: object, **kwargs: object) -> None:
        log.warning("retry", what=self.what, detail=msg % args if args else msg)


def _policy(what: str, transient: tuple[type[BaseException], ...], deadline: float,
            max_wait: float) -> dict[str, Any]:
    """One back-off policy for both twins below: which errors, how long between, when to stop."""
    return {
        "retry": retry_if_exception_type(transient),
        "wait": wait_random_exponential(multiplier=0.2, max=max_wait),
        "stop": stop_after_delay(deadline) if deadline else (lambda _state: False),
        "before_sleep": before_sleep_log(_StdLogger(what), 30),  # type: ignore[arg-type]
        "reraise": True,
    }


async def retry_async(what: str, call: Callable[[], Awaitable[T]], *, deadline: float = 60.0,
                      transient: tuple[type[BaseException], ...] = NATS_TRANSIENT,
                      max_wait: float = 5.0) -> T:
    """Call until it succeeds or ``deadline`` seconds pass (0: forever); re-raises the last error."""
    retrying = AsyncRetrying(**_policy(what, transient, deadline, max_wait))
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")


def retry_sync(what: str, call: Callable[[], T], *, deadline: float = 60.0,
               transient: tuple[type[BaseException], ...] = STORE_TRANSIENT,
               max_wait: float = 5.0) -> T:
    """The blocking twin of :func:`retry_async`, for store calls made in worker threads."""
    retrying = Retrying(**_policy(what, transient, deadline, max_wait))
    return retrying(call)
