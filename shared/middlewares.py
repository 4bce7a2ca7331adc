"""HTTP middlewares every service's app runs: per-caller rate limit, input guard (body size, NUL
characters), security headers; and who the client is behind trusted proxies."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import lru_cache
from typing import Any

import orjson

from shared.metrics import security_event
from shared.settings import Settings
from shared.tokens import verified_caller
from shared.uploads import MAX_UPLOAD_BYTES, MULTIPART_OVERHEAD_BYTES

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Distinct callers a throttle remembers at once. Past it the least recently seen one is
#: forgotten (it merely starts afresh): memory stays bounded whatever a flood of keys does.
MAX_THROTTLE_KEYS = 100_000


class RequestBudget:
    """At most ``limit`` requests per ``window`` seconds per key, as a generic cell rate
    algorithm: one number per key (when its allowance is next fully spent), so a limit of
    thousands per minute costs no more memory than a limit of five.

    A caller may spend its whole allowance at once; after that one request comes free every
    ``window / limit`` seconds. Keys whose allowance is whole again are the same as unknown ones
    and are dropped from the front (least recently seen first) as hits come.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_THROTTLE_KEYS) -> None:
        self.interval = window / limit
        self.tolerance = window - self.interval
        self.clock = clock
        self.max_keys = max_keys
        self._spent_until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request; 0 when allowed, else the seconds to wait (it is not counted)."""
        with self._lock:
            now = self.clock()
            spent_until = max(self._spent_until.get(key, now), now)
            wait = spent_until - self.tolerance - now
            if wait > 0:
                return max(wait, 0.001)
            self._spent_until[key] = spent_until + self.interval
            self._spent_until.move_to_end(key)
            while self._spent_until:
                oldest_key, oldest = next(iter(self._spent_until.items()))
                if oldest > now and len(self._spent_until) <= self.max_keys:
                    break
                del self._spent_until[oldest_key]
            return 0.0

    def __len__(self) -> int:
        return len(self._spent_until)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def proxy_networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


#: The portal proves it forwarded a request (so its X-Forwarded-For is the user's address) with
#: this header: an HMAC of the signing secret, which a local process without the secret cannot
#: make. Loopback is not trusted for that: in embedded mode anyone on the host reaches it.
FORWARDED_BY_HEADER = "x-nastavnik-forwarded-by"


def forwarding_proof(secret: str) -> str:
    return hmac.new(secret.encode(), b"nastavnik:forwarded-by-portal", hashlib.sha256).hexdigest()


def _forwarded_by_portal(scope: Scope, secret: str) -> bool:
    if not secret:
        return False
    header = FORWARDED_BY_HEADER.encode()
    sent = next((value for name, value in scope.get("headers", []) if name == header), b"")
    return bool(sent) and hmac.compare_digest(sent.decode("latin-1"), forwarding_proof(secret))


def client_address(scope: Scope, trusted_proxies: Iterable[str] = (),
                   forwarding_secret: str = "") -> str:
    """The address of the client: the direct peer, unless that peer is a trusted proxy or the
    request proves it comes from the portal (``FORWARDED_BY_HEADER``).

    Behind trusted proxies the X-Forwarded-For chain is read from the right (each proxy appends
    the peer it saw) and the first hop that is not a trusted proxy is the client; whatever stands
    left of it was written by the client itself and proves nothing. From an untrusted peer the
    header is ignored, so nobody dodges the per-address throttle by inventing addresses.
    """
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    networks = proxy_networks(tuple(trusted_proxies))
    from_proxy = bool(networks) and _trusted(peer, networks)
    if not from_proxy and not _forwarded_by_portal(scope, forwarding_secret):
        return peer
    forwarded = b",".join(value for name, value in scope.get("headers", [])
                          if name == b"x-forwarded-for")
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]  # a throttle key: bounded whatever a proxy wrote
    return hops[0][:64] if hops else peer


# --------------------------------------------------------------------------- middlewares

EXEMPT_FROM_RATE_LIMIT = ("/health", "/live", "/ready", "/metrics")


class RateLimitMiddleware:
    """Per-caller request budget: a runaway script or a scraper gets 429, the system stays up.

    The caller is the user of a verified access token (many users share one address behind a
    school's NAT or the portal), else the client address. A token that does not verify counts
    as no token: inventing a bearer per request must not buy a fresh budget each time.
    """

    def __init__(self, app: ASGIApp, per_minute: int | None = None) -> None:
        self.app = app
        limit = Settings().api_requests_per_minute if per_minute is None else per_minute
        self.budget = RequestBudget(limit, 60.0) if limit > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.budget is None or scope["type"] != "http" or \
                scope["path"].startswith(EXEMPT_FROM_RATE_LIMIT):
            await self.app(scope, receive, send)
            return
        wait = self.budget.hit(caller_key(scope))
        if not wait:
            await self.app(scope, receive, send)
            return
        security_event("throttled", reason="RATE_LIMITED", address=_address_of(scope),
                       target=f"{scope.get('method', '')} {scope.get('path', '')}")
        body = orjson.dumps({"code": "RATE_LIMITED",
                             "message": f"Слишком много запросов. Повторите через {math.ceil(wait)} с",
                             "status": 429})
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"),
                                (b"retry-after", str(math.ceil(wait)).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def caller_key(scope: Scope) -> str:
    """Whose budget a request spends: ``u:<role>:<user>`` for a verified token, else ``a:<address>``.

    The signing secret and the trusted proxies come from the app's settings (``app.state``);
    an app without them (a bare test app) keys every caller by address.
    """
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    token = bearer_token(scope)
    if token and settings is not None:
        user = verified_caller(token, settings.signing_secret)
        if user:
            return "u:" + user
    return "a:" + _address_of(scope)


def _address_of(scope: Scope) -> str:
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    if settings is None:
        return client_address(scope)
    return client_address(scope, settings.trusted_proxies, settings.signing_secret)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip() or None
            return None
    return None



def error_messages(status: int, code: str, message: str) -> list[MutableMapping[str, Any]]:
    payload = orjson.dumps({"code": code, "message": message, "status": status})
    return [{"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(payload)).encode())]},
            {"type": "http.response.body", "body": payload}]


class InputGuardMiddleware:
    """Refuses request bodies over a size limit (413) and NUL characters in query strings and
    JSON or form bodies (422), before any route parses them.

    The size limit keeps one request from holding the process's memory, whatever a route
    validates later: JSON and forms up to ``max_body_bytes``, multipart uploads up to
    ``MAX_UPLOAD_BYTES`` plus their envelope (the upload routes check the file itself). A
    declared Content-Length over the limit is refused unread; a chunked body is counted as it
    arrives and cut off at the limit.

    NUL: no legitimate text holds one, PostgreSQL cannot store one in a text column (it would
    end in a 500), and C-based parsers downstream may cut the string there. Files (multipart)
    are binary and checked by the upload guards instead.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = (Settings().max_body_bytes if max_body_bytes is None
                               else max_body_bytes)

    def _too_large(self, multipart: bool, scope: Scope) -> list[MutableMapping[str, Any]]:
        if multipart:
            security_event("upload_refused", reason="FILE_TOO_LARGE", address=_address_of(scope),
                           target=f"{scope.get('method', '')} {scope.get('path', '')}")
            return error_messages(413, "FILE_TOO_LARGE",
                                   f"Файл больше {MAX_UPLOAD_BYTES // (1024 * 1024)} МБ")
        limit = self.max_body_bytes
        size = f"{limit // (1024 * 1024)} МБ" if limit >= 1024 * 1024 else f"{max(limit // 1024, 1)} КБ"
        return error_messages(413, "REQUEST_TOO_LARGE", f"Запрос слишком большой: не более {size}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").lower()
        multipart = content_type.startswith(b"multipart/")
        limit = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES if multipart else self.max_body_bytes
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1  # the server itself refuses a malformed length
        if declared > limit:
            await self._send_all(send, self._too_large(multipart, scope))
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query.lower() or "\x00" in scope["path"]:
            await self._send_all(send, self._nul())
            return
        if content_type.startswith((b"application/json", b"application/x-www-form")):
            chunks: list[bytes] = []
            received = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    await self._send_all(send, self._too_large(multipart, scope))
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            form = content_type.startswith(b"application/x-www-form")
            if b"\\u0000" in body or b"\x00" in body or (form and b"%00" in body):
                await self._send_all(send, self._nul())
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self._stream_counted(scope, receive, send, limit, multipart)

    async def _stream_counted(self, scope: Scope, receive: Receive, send: Send, limit: int,
                              multipart: bool) -> None:
        """Any other body reaches the route as it arrives; past the limit the route sees the
        client disconnect and the client gets the 413 instead of whatever the route answers."""
        received = 0
        over = False
        started = False

        async def counted() -> MutableMapping[str, Any]:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._send_all(send, self._too_large(multipart, scope))

    @staticmethod
    def _nul() -> list[MutableMapping[str, Any]]:
        return error_messages(422, "INVALID_CHARACTERS",
                               "Запрос содержит недопустимый нулевой символ (NUL)")

    @staticmethod
    async def _send_all(send: Send, messages: list[MutableMapping[str, Any]]) -> None:
        for message in messages:
            await send(message)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read once, handed to the route as if it arrived now; then the real channel."""
    replayed = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


# Swagger UI and ReDoc pages load their bundles from a CDN and start with an inline script;
# only those two pages get the looser policy.
API_DOCS_PATHS = ("/docs", "/redoc")
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
              "form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
HSTS_VALUE = b"max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Headers that make every response harder to misuse in a browser."""

    def __init__(self, app: ASGIApp, hsts: bool | None = None) -> None:
        self.app = app
        self.hsts = Settings().hsts if hsts is None else hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(API_DOCS_PATHS) else STRICT_CSP
        tls = self.hsts or scope.get("scheme") == "https"

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
                    # on form posts, and the CSRF check could no longer tell our forms apart.
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", csp.encode()),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if not path.startswith("/static/"):
                    # Personal data must not linger in shared or browser caches.
                    wanted.append((b"cache-control", b"no-store"))
                if tls:
                    wanted.append((b"strict-transport-security", HSTS_VALUE))
                headers += [(n, v) for n, v in wanted if n not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
