"""Prometheus metrics every service exposes on ``/metrics`` (prometheus-client).

The outbox figures are read from the store when Prometheus scrapes, so they are never stale:
``stored - published`` is the backlog a dashboard should alarm on (a relay that does not run).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import get_logger

_security_log = get_logger("nastavnik.security")

EVENTS_STORED = Gauge("nastavnik_events_stored", "Events in the service's event store (outbox position)",
                      ["source"])
EVENTS_PUBLISHED = Counter("nastavnik_events_published", "Events the relay published to JetStream",
                           ["source"])
RELAY_PUBLISHED_POSITION = Gauge("nastavnik_relay_published_position",
                                 "Store position of the last event on the stream", ["source"])
RELAY_LEASE_HELD = Gauge("nastavnik_relay_lease_held", "1 while this replica holds the relay lease",
                         ["source"])
EVENTS_CONSUMED = Counter("nastavnik_events_consumed", "Events applied by a consumer",
                          ["consumer", "stream"])
CONSUMER_LAG = Gauge("nastavnik_consumer_lag", "Messages on the stream not yet applied",
                     ["consumer", "stream"])
ERRORS = Counter("nastavnik_errors", "Errors by component and kind", ["component", "kind"])
SECURITY_EVENTS = Counter("nastavnik_security_events", "Refused or failed security-relevant requests",
                          ["event", "reason"])
REQUEST_SECONDS = Histogram("nastavnik_request_seconds", "HTTP request latency",
                            ["method", "route", "status"])


def watch_stored(source: str, read_position: Callable[[], int]) -> None:
    """Report the store's position at scrape time; a store that cannot be read shows NaN."""

    def value() -> float:
        try:
            return float(read_position())
        except Exception:  # noqa: BLE001 - a scrape must not fail because the store is down
            return math.nan

    EVENTS_STORED.labels(source).set_function(value)


def error(component: str, exc: BaseException | str) -> None:
    ERRORS.labels(component, exc if isinstance(exc, str) else type(exc).__name__).inc()


#: The kinds of security event: each is a log line ``security.<kind>`` and a count.
SECURITY_EVENT_KINDS = ("access_denied", "login_failed", "csrf_refused", "throttled",
                        "upload_refused", "token_refused")


def security_event(kind: str, *, reason: str, address: str = "", actor: str = "",
                   target: str = "") -> None:
    """One refused or failed attempt, as a structured warning and a count.

    Fields are identifiers only (a login or user id, an address, a path, a code): never a
    password, a token or anyone's personal data.
    """
    SECURITY_EVENTS.labels(kind, reason[:40]).inc()
    fields = {"reason": reason, "address": address, "target": target[:200]}
    if actor:
        fields["actor"] = actor[:200]
    _security_log.warning(f"security.{kind}", **fields)


def max_consumer_lag() -> float:
    """The worst lag of any consumer in this process (0 when it runs none)."""
    worst = 0.0
    for metric in CONSUMER_LAG.collect():
        for sample in metric.samples:
            worst = max(worst, sample.value)
    return worst


class RequestMetrics:
    """Latency by route template (not raw path, which would explode the label set).

    A plain ASGI middleware: as ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) it
    streamed every response through a task and a memory channel of its own, ~4 % of a
    command's CPU in the profile of issue 24."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router sets the matched route on this very scope.
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started)
            if status >= 500:
                error("http", f"status_{status}")
