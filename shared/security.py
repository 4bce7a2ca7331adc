"""Security plumbing every service shares: password hashes, sign-in throttling, API rate limits,
security headers, CSRF checks for cookie-authenticated forms, upload guards and OIDC tokens.

Configuration comes from ``NASTAVNIK_*`` environment variables (``SecuritySettings``) so a region
turns on its single sign-on or tightens limits without a code change.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import ipaddress
import math
import threading
import time
import zipfile
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import Actor, OrgPath, Role, read_token
from shared.errors import DomainError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NASTAVNIK_", extra="ignore")

    #: Access tokens are short-lived; the refresh token (rotated on every use) keeps a session.
    access_token_minutes: int = 30
    refresh_token_hours: int = 12
    #: Wrong passwords for one login before it is locked, and for how long.
    login_max_failures: int = 5
    login_lockout_seconds: int = 15 * 60
    #: Sign-in attempts one client address may make per window, whatever the login.
    login_address_attempts: int = 30
    login_address_window_seconds: int = 5 * 60
    #: API requests per minute per caller (token, or address when anonymous); 0 turns it off.
    api_requests_per_minute: int = 1200
    #: Largest JSON or form body a request may carry (uploads: ``MAX_UPLOAD_BYTES``). Generous
    #: for the largest legitimate command (thousands of pairs confirmed at once).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Send Strict-Transport-Security even when the app itself sees plain HTTP (TLS at the proxy).
    hsts: bool = False
    # --- OIDC: a regional single sign-on; empty issuer keeps it off ---
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    #: Claims carrying the role and the organisation path (``region[/municipality[/org]]``).
    oidc_role_claim: str = "nastavnik_role"
    oidc_scope_claim: str = "nastavnik_scope"
    oidc_user_claim: str = "preferred_username"


def security_settings() -> SecuritySettings:
    return SecuritySettings()


# --------------------------------------------------------------------------- passwords

# argon2id with the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists: an unknown login hashes a dummy."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("no-such-account-dummy-password")


def check_password_strength(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise DomainError("WEAK_PASSWORD", f"Пароль должен быть длиной от {MIN_PASSWORD_LENGTH} "
                          f"до {MAX_PASSWORD_LENGTH} символов", 422)
    if len(set(password)) < 4:
        raise DomainError("WEAK_PASSWORD", "Пароль слишком простой", 422)


# --------------------------------------------------------------------------- throttling

#: Distinct callers a throttle remembers at once. Past it the least recently seen one is
#: forgotten (it merely starts afresh): memory stays bounded whatever a flood of keys does.
MAX_THROTTLE_KEYS = 100_000


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key, thread-safe, in memory.

    Keys are kept in the order they were last seen, so the ones whose window has passed sit at
    the front and are dropped a few at a time as later hits come: no request ever scans them all.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_THROTTLE_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def _forget_stale(self, now: float) -> None:
        # Amortised O(1): every key popped here was inserted by an earlier hit.
        while self._hits:
            oldest_key, oldest = next(iter(self._hits.items()))
            if oldest and oldest[-1] > now - self.window and len(self._hits) <= self.max_keys:
                return
            del self._hits[oldest_key]

    def hit(self, key: str) -> float:
        """Count one event; 0 when allowed, else the seconds to wait (the event is not counted)."""
        with self._lock:
            now = self.clock()
            hits = self._trim(key, now)
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            self._forget_stale(now)
            return 0.0

    def __len__(self) -> int:
        return len(self._hits)


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


class LoginGuard:
    """Sign-in throttling per client address.

    Kept in the process: with several API replicas behind a balancer each counts on its own, so
    one address may make at most replicas × configured attempts per window (still bounded;
    argon2 keeps each guess expensive). The lock-out per login is shared by every replica: it
    lives in the registry's database (``services/registry/accounts.py``).
    """

    def __init__(self, settings: SecuritySettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or security_settings()
        self.addresses = SlidingWindow(self.settings.login_address_attempts,
                                       self.settings.login_address_window_seconds, clock)

    def before_attempt(self, address: str) -> None:
        wait = self.addresses.hit(address)
        if wait:
            raise too_many("LOGIN_THROTTLED", "Слишком много попыток входа с этого адреса. "
                           f"Повторите через {math.ceil(wait)} с", wait)


def account_locked(remaining: float) -> DomainError:
    return too_many("ACCOUNT_LOCKED", "Учётная запись временно заблокирована после "
                    f"неудачных попыток входа. Повторите через {math.ceil(remaining / 60)} мин",
                    remaining)


def too_many(code: str, message: str, retry_after: float) -> DomainError:
    error = DomainError(code, message, 429)
    error.details = [{"retry_after": math.ceil(retry_after)}]
    return error


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


def client_address(scope: Scope, trusted_proxies: Iterable[str] = ()) -> str:
    """The address of the client: the direct peer, unless that peer is a trusted proxy.

    Behind trusted proxies the X-Forwarded-For chain is read from the right (each proxy appends
    the peer it saw) and the first hop that is not a trusted proxy is the client; whatever stands
    left of it was written by the client itself and proves nothing. From an untrusted peer the
    header is ignored, so nobody dodges the per-address throttle by inventing addresses.
    """
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    networks = proxy_networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
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
        limit = security_settings().api_requests_per_minute if per_minute is None else per_minute
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
        body = orjson.dumps({"code": "RATE_LIMITED",
                             "message": f"Слишком много запросов. Повторите через {math.ceil(wait)} с"})
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
    trusted = getattr(settings, "trusted_proxies", ()) if settings is not None else ()
    return "a:" + client_address(scope, trusted)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip() or None
            return None
    return None


class _VerifiedTokens:
    """Tokens of the regional SSO already verified by a route: (caller, expiry) by digest.

    Verifying an SSO token may need the issuer's keys over the network, which the limiter must
    not wait for on the event loop; a token the routes verified once is recognised here until it
    expires. Bounded, least recently used first out.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def remember(self, token: str, caller: str, expires_at: float) -> None:
        digest = self._digest(token)
        with self._lock:
            self._entries[digest] = (caller, expires_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def caller(self, token: str) -> str | None:
        with self._lock:
            found = self._entries.get(self._digest(token))
        if found is None or found[1] <= time.time():
            return None
        return found[0]


_sso_tokens = _VerifiedTokens()


def _caller_of(actor: Actor) -> str:
    return f"{actor.role.value}:{actor.user}"


def verified_caller(token: str, secret: str) -> str | None:
    """The caller a token proves, or None when it proves nothing (forged, expired, unknown SSO)."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None
    if algorithm == "RS256":
        return _sso_tokens.caller(token)
    try:
        return _caller_of(read_token(token, secret))
    except DomainError:
        return None


#: The one limit for uploaded files (XLSX, CSV, DOCX), wherever they arrive.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: What a multipart body may carry besides the file: boundaries, part headers, form fields.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def _error_response(status: int, code: str, message: str) -> list[MutableMapping[str, Any]]:
    payload = orjson.dumps({"code": code, "message": message})
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
        self.max_body_bytes = (security_settings().max_body_bytes if max_body_bytes is None
                               else max_body_bytes)

    def _too_large(self, multipart: bool) -> list[MutableMapping[str, Any]]:
        if multipart:
            return _error_response(413, "FILE_TOO_LARGE",
                                   f"Файл больше {MAX_UPLOAD_BYTES // (1024 * 1024)} МБ")
        limit = self.max_body_bytes
        size = f"{limit // (1024 * 1024)} МБ" if limit >= 1024 * 1024 else f"{max(limit // 1024, 1)} КБ"
        return _error_response(413, "REQUEST_TOO_LARGE", f"Запрос слишком большой: не более {size}")

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
            await self._send_all(send, self._too_large(multipart))
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
                    await self._send_all(send, self._too_large(multipart))
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
            await self._send_all(send, self._too_large(multipart))

    @staticmethod
    def _nul() -> list[MutableMapping[str, Any]]:
        return _error_response(422, "INVALID_CHARACTERS",
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
        self.hsts = security_settings().hsts if hsts is None else hsts

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


# --------------------------------------------------------------------------- CSRF

CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token_for(session_token: str, secret: str) -> str:
    """A token bound to the session (double submit without server state): put it in each form."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(method: str, headers: Any, host_url: str, session_token: str | None,
               secret: str, submitted: str | None = None, require_token: bool = False) -> None:
    """Refuse a state-changing request that another site made the browser send.

    Two checks: the Origin (or, failing that, Referer) must be this site's own; and when
    ``require_token`` the form must carry ``csrf_token_for(session)``. A SameSite=Strict session
    cookie already keeps cross-site requests unauthenticated; these are the second line.
    """
    if method.upper() not in UNSAFE_METHODS:
        return
    origin = headers.get("origin") or headers.get("referer")
    if origin:
        expected = urlsplit(host_url)
        got = urlsplit(origin)
        if (got.scheme, got.netloc) != (expected.scheme, expected.netloc):
            raise DomainError("CSRF_FAILED", "Запрос отправлен с чужого сайта и отклонён", 403)
    if require_token:
        expected_token = csrf_token_for(session_token or "", secret)
        if not submitted or not hmac.compare_digest(submitted, expected_token):
            raise DomainError("CSRF_FAILED", "Форма устарела: обновите страницу и отправьте снова",
                              403)


# --------------------------------------------------------------------------- uploads

UploadKind = Literal["xlsx", "docx", "csv", "txt"]


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_entries: int = 1000
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0
    #: Small parts compress well legitimately; the ratio applies only above this size.
    ratio_min_bytes: int = 1024 * 1024


OOXML_MAIN_PART: dict[str, str] = {"xlsx": "xl/workbook.xml", "docx": "word/document.xml"}
FORMAT_TITLES = {"xlsx": "книга Excel (.xlsx)", "docx": "документ Word (.docx)",
                 "csv": "таблица CSV", "txt": "текстовый файл"}


def upload_rejected(code: str, message: str, status: int = 422) -> DomainError:
    return DomainError(code, message, status)


def _bomb() -> DomainError:
    return upload_rejected("ZIP_BOMB", "Файл отклонён: внутри архива слишком много данных или "
                           "подозрительно высокая степень сжатия", 413)


def check_zip_bomb(data: bytes, limits: ZipLimits = ZipLimits()) -> None:
    """Refuse an archive whose directory promises too much; anything that is not a readable zip
    is left to the format's own parser (which reports it in its own words)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # not a zip at all: nothing to inflate
        return
    with archive:
        _check_sizes(archive.infolist(), limits)


def _check_sizes(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    # Declared sizes are enforced by zipfile while reading (it stops at file_size and fails
    # the CRC), so checking the directory before inflating anything is sound.
    if len(infos) > limits.max_entries:
        raise _bomb()
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise _bomb()
    for info in infos:
        if info.file_size > limits.ratio_min_bytes and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _bomb()
    if total > limits.ratio_min_bytes and total > limits.max_ratio * max(packed, 1):
        raise _bomb()


def check_ooxml(data: bytes, kind: Literal["xlsx", "docx"], limits: ZipLimits = ZipLimits()) -> None:
    """Inspect an Office Open XML archive's directory before any parser decompresses it."""
    corrupt = upload_rejected("CORRUPT_FILE", f"Файл повреждён или не является: {FORMAT_TITLES[kind]}")
    if not data.startswith(b"PK\x03\x04"):
        raise corrupt
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # zipfile raises several types on garbage; all mean "not a zip"
        raise corrupt from None
    with archive:
        infos = archive.infolist()
        _check_sizes(infos, limits)
        names = [i.filename for i in infos]
        if len(set(names)) != len(names) or "[Content_Types].xml" not in names \
                or OOXML_MAIN_PART[kind] not in names:
            raise corrupt
        if any(i.flag_bits & 0x1 for i in infos):  # encrypted parts
            raise corrupt
        if any(i.filename.startswith("/") or ".." in i.filename.split("/") for i in infos):
            raise corrupt
        try:
            for info in infos:
                if info.filename.endswith((".xml", ".rels")):
                    with archive.open(info) as part:
                        head = part.read(4096).lower()
                    # Real OOXML never carries a DTD: refuse entity-expansion tricks up front.
                    if b"<!doctype" in head or b"<!entity" in head:
                        raise corrupt
        except DomainError:
            raise
        except Exception:
            raise corrupt from None


def sniff_kind(data: bytes) -> UploadKind | None:
    """What the bytes are, whatever the file is called."""
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:
            return None
        for kind, part in OOXML_MAIN_PART.items():
            if part in names:
                return kind  # type: ignore[return-value]
        return None
    if b"\x00" in data[:8192]:
        return None  # binary: an executable, an image, an old .doc/.xls
    return "txt"


def check_upload(data: bytes, filename: str, allowed: Iterable[UploadKind],
                 max_bytes: int = MAX_UPLOAD_BYTES, limits: ZipLimits = ZipLimits()) -> UploadKind:
    """Size, real type (by content, not name) and, for archives, zip-bomb checks. Returns the kind."""
    allowed = tuple(allowed)
    if len(data) > max_bytes:
        raise upload_rejected("FILE_TOO_LARGE", f"Файл больше {max_bytes // (1024 * 1024)} МБ", 413)
    if not data.strip():
        raise upload_rejected("EMPTY_FILE", "Файл пуст")
    kind = sniff_kind(data)
    if kind == "txt" and "csv" in allowed and filename.lower().endswith(".csv"):
        kind = "csv"
    if kind == "txt" and "txt" not in allowed and "csv" in allowed:
        kind = "csv"
    if kind is None or kind not in allowed:
        titles = ", ".join(FORMAT_TITLES[k] for k in allowed)
        raise upload_rejected("UNSUPPORTED_FORMAT", f"Неподдерживаемый тип файла. Нужен: {titles}", 415)
    if kind in ("xlsx", "docx"):
        check_ooxml(data, kind, limits)  # type: ignore[arg-type]
    return kind


# --------------------------------------------------------------------------- tokens, OIDC

class OidcVerifier:
    """Accepts RS256 tokens of a regional single sign-on: signature by the issuer's JWKS, issuer,
    audience, expiry; the role and organisation path come from configured claims."""

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings
        self.jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300,
                                    timeout=5)

    def actor(self, token: str) -> Actor:
        s = self.settings
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=s.oidc_audience or None,
                                issuer=s.oidc_issuer, options={"require": ["exp", "iss", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise DomainError("TOKEN_EXPIRED", "Срок действия входа истёк, войдите снова", 401) from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401) from exc
        try:
            role = Role(str(claims[s.oidc_role_claim]))
            if role is Role.SYSTEM:
                raise ValueError("the system role is never granted by an outside issuer")
            scope = OrgPath.parse(str(claims[s.oidc_scope_claim]))
            user = str(claims.get(s.oidc_user_claim) or claims["sub"])
            actor = Actor(user=user[:200], role=role, scope=scope)
        except (KeyError, ValueError) as exc:
            raise DomainError("UNAUTHENTICATED", "В токене единого входа нет роли или зоны доступа "
                              "системы «Наставник»", 401) from exc
        _sso_tokens.remember(token, _caller_of(actor), float(claims["exp"]))
        return actor


_verifiers: dict[tuple[str, str, str], OidcVerifier] = {}
_verifiers_lock = threading.Lock()


def oidc_verifier(settings: SecuritySettings | None = None) -> OidcVerifier | None:
    s = settings or security_settings()
    if not (s.oidc_issuer and s.oidc_jwks_url):
        return None
    key = (s.oidc_issuer, s.oidc_audience, s.oidc_jwks_url)
    with _verifiers_lock:
        if key not in _verifiers:
            _verifiers[key] = OidcVerifier(s)
        return _verifiers[key]


def token_needs_network(token: str) -> bool:
    """True for a regional SSO token: checking it may fetch the issuer's keys (blocking I/O)."""
    try:
        return jwt.get_unverified_header(token).get("alg") == "RS256"
    except jwt.InvalidTokenError:
        return False


def actor_from_token(token: str, secret: str, settings: SecuritySettings | None = None) -> Actor:
    """Our own HS256 access tokens, or — when configured — the regional SSO's RS256 ones."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError as exc:
        raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401) from exc
    if algorithm == "RS256":
        verifier = oidc_verifier(settings)
        if verifier is None:
            raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401)
        return verifier.actor(token)
    return read_token(token, secret)
