"""Runs services: one FastAPI app, one NATS connection, each service's background loops.

``nastavnik serve registry`` hosts one service; ``nastavnik up`` hosts them all, in one process
or with some in processes of their own behind its address (``shared.forwarding``). Either way
they meet only over NATS: a service's runtime gets the bus, never another service.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared import diagnostics, metrics, revocations, signing
from shared.asyncapi import asyncapi_json
from shared.bus import connect, ensure_streams
from shared.consumer import running_consumers
from shared.forwarding import ForwardingMiddleware
from shared.logging import configure_logging, get_logger
from shared.loops import supervise
from shared.middlewares import InputGuardMiddleware, RateLimitMiddleware, SecurityHeadersMiddleware
from shared.openapi import document_errors
from shared.relay import OutboxRelay
from shared.routing import index_routes
from shared.settings import Settings
from shared.web import install_error_handlers

log = get_logger(__name__)

#: How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms).
#: A bulk import saves and projects thousands of events on worker threads; the event loop,
#: waiting that long each time it wants the GIL back (several times per request), served
#: ``/auth/me`` in ~400 ms at p99 meanwhile. At 1 ms the loop gets its turn five times sooner.
GIL_SWITCH_SECONDS = 0.001
#: The cyclic collector's thresholds (CPython's default: 700, 10, 10). A full collection walks
#: every object of the process with the GIL held (100-500 ms with 10,000 people's read models
#: and a bulk import in memory); with the default it came every ~70,000 net allocations, dozens
#: of times while an import was saved and projected. Young collections stay small and frequent
#: (at most 10,000 objects, then 100,000), full ones come a hundred times less often.
GC_THRESHOLDS = (10_000, 10, 1_000)


class ServiceRuntime(Protocol):
    name: str
    router: APIRouter

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]: ...

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def create_app(settings: Settings, runtimes: Sequence[ServiceRuntime],
               elsewhere: Mapping[str, str] | None = None) -> FastAPI:
    """The API of ``runtimes``; with ``elsewhere`` (service name → base URL of the process that
    runs it) also the API's one address for those services: their requests are passed on, and
    health, readiness and the API's document include them."""
    configure_logging(settings.log_level, settings.log_format)
    elsewhere = dict(elsewhere or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deadline = settings.connect_deadline_seconds
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        gc.set_threshold(*GC_THRESHOLDS)
        # Relays sign with it, consumers check with it: installed before any is built.
        signing.install(signing.load_keyring(settings))
        # A connection per service, each with that service's credentials and permissions,
        # even when one process hosts them all.
        connections: list[Client] = []
        for runtime in runtimes:
            connections.append(await connect(settings.nats_url, name=runtime.name, settings=settings,
                                             deadline=deadline, service=runtime.name))
        # Each with its own user: only a stream's owner may scale it up.
        for runtime, nc in zip(runtimes, connections, strict=True):
            await ensure_streams(nc.jetstream(), settings.stream_replicas, deadline=deadline,
                                 owner=runtime.name)
        stop = asyncio.Event()
        # Logouts made through the registry (in this process or another) onto this process's
        # deny-list, those of the last token lifetime at once and each new one live.
        follower = connections[0].jetstream()
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(supervise(
            "revocations", lambda halt: revocations.follow(follower, settings, halt), stop),
            name="revocations")]
        for runtime, nc in zip(runtimes, connections, strict=True):
            tasks += await runtime.start(app, nc, nc.jetstream(), stop)
            for relay in relays_of(runtime):
                relay.use_lease(f"{settings.instance}", settings.relay_lease_seconds,
                                settings.stream_replicas)
        app.state.nats = connections[0]
        app.state.connections = connections
        app.state.tasks = tasks
        log.info("host.started", services=[r.name for r in runtimes])
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for nc in connections:
                await nc.drain()
            for runtime in runtimes:
                runtime.close()
            log.info("host.stopped")

    # The API's documents are served by shared.diagnostics, behind a bearer like /metrics.
    app = FastAPI(title="Наставник", version="0.1.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.elsewhere = elsewhere
    install_error_handlers(app)
    document_errors(app)
    app.add_middleware(metrics.RequestMetrics)
    # Added last = outermost: a 429 from the limiter still gets the security headers.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    if elsewhere:  # outermost: the process behind applies its own limits, guards and headers
        app.add_middleware(ForwardingMiddleware, elsewhere=elsewhere,
                           secret=settings.signing_secret,
                           trusted_proxies=tuple(settings.trusted_proxies))
    app.include_router(diagnostics.router)
    for runtime in runtimes:
        app.include_router(runtime.router)
    index_routes(app)

    # Beside /openapi.json, and like it outside the HTTP API it describes.
    @app.get("/asyncapi.json", include_in_schema=False)
    def asyncapi() -> Response:
        return Response(asyncapi_json(), media_type="application/json")

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        nc: Client | None = getattr(app.state, "nats", None)
        services = {r.name: r.health() for r in runtimes}
        apart = {name: _ask(url, "/health") for name, url in elsewhere.items()}
        services.update({name: body["services"][name] if body else {"status": "unreachable"}
                         for name, body in apart.items()})
        ok = nc is not None and nc.is_connected and all(apart.values())
        return {"status": "ok" if ok else "degraded", "nats": bool(nc and nc.is_connected),
                "services": services}

    @app.get("/live", tags=["health"])
    def live() -> JSONResponse:
        """Dead when a background loop (relay, consumer) ended while the process should run."""
        tasks: list[asyncio.Task[Any]] = getattr(app.state, "tasks", [])
        dead = [t.get_name() for t in tasks if t.done()]
        dead += [f"process:{name}" for name, url in elsewhere.items() if not _ask(url, "/live")]
        return JSONResponse({"live": not dead, "dead_tasks": dead}, status_code=503 if dead else 200)

    @app.get("/ready", tags=["health"])
    async def ready() -> JSONResponse:
        """Ready for traffic: NATS connected, every service's store answers, consumers caught up."""
        connections: list[Client] = getattr(app.state, "connections", [])
        checks: dict[str, Any] = {"nats": bool(connections) and all(c.is_connected for c in connections)}
        for runtime in runtimes:
            try:
                # health() reads the store; a store that is down raises or hangs.
                await asyncio.wait_for(asyncio.to_thread(runtime.health), timeout=2.0)
                checks[f"store:{runtime.name}"] = True
            except Exception:  # noqa: BLE001 - any failure means not ready
                checks[f"store:{runtime.name}"] = False
        for name, url in elsewhere.items():
            checks[f"process:{name}"] = await asyncio.to_thread(_ask, url, "/ready") is not None
        lag = metrics.max_consumer_lag()
        checks["consumer_lag"] = lag
        stalled = stalled_loops(runtimes, settings.ready_stall_seconds)
        checks["stalled"] = stalled
        if stalled:
            log.warning("host.stalled", loops=stalled)
        ok = (all(v for k, v in checks.items() if k not in ("consumer_lag", "stalled"))
              and lag <= settings.ready_max_lag and not stalled)
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    return app


def _ask(base_url: str, path: str) -> dict[str, Any] | None:
    """The JSON a process apart answers at ``path`` with a 2xx; None when it does not."""
    try:
        answer = httpx.get(base_url + path, timeout=2.0)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.is_success else None


def stalled_loops(runtimes: Sequence[ServiceRuntime], after: float) -> dict[str, str]:
    """Relays and consumers of this process that made no progress for ``after`` seconds, and why."""
    found: dict[str, str] = {}
    for runtime in runtimes:
        for relay in relays_of(runtime):
            reason = relay.stalled(after)
            if reason:
                found[f"relay:{relay.app.source}"] = reason
    for runner in running_consumers():
        reason = runner.stalled(after)
        if reason:
            found[f"consumer:{runner.projection.name}"] = reason
    return found


def relays_of(runtime: ServiceRuntime) -> list[OutboxRelay]:
    """The relays a runtime started: each gets the store's lease, whatever the service."""
    return [value for value in vars(runtime).values() if isinstance(value, OutboxRelay)]
