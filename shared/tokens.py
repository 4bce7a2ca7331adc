"""Access tokens: our own HS256 ones and, when configured, a regional single sign-on's RS256 ones.

The rate limiter asks who a token proves without waiting on the network, so tokens of the
regional SSO verified once by a route are remembered here until they expire.

Logged-out tokens are refused by their ``jti`` (``REVOKED``, the deny-list). The design:

- the registry is the one writer: its logout stores ``(jti, exp)`` in its database
  (``registry_revoked_tokens``) and puts it on this process's deny-list; at start it loads the
  rows not yet expired, so a restart forgets nothing;
- it also announces each revoked ``(jti, exp)`` on the bus (``shared.revocations``: a JetStream
  key-value bucket only the registry's NATS user may write, each entry signed with the
  registry's Ed25519 key), at once and again at every start for the rows not yet expired;
- every process (``shared.host``) follows that bucket onto its own ``REVOKED``: the entries of
  the last token lifetime at start, each new one live; an entry the registry did not sign is
  refused and logged (``security.revocation_refused``);
- every verifier in the process (the HTTP routes of every service, the portal's cookie, the
  rate limiter) reads the same ``REVOKED`` through ``actor_from_token``; requests between
  services carry no token at all (``shared.claims``), so there is nothing to revoke on the bus;
- embedded mode runs every service in one process, so a logout is refused everywhere at once;
  in distributed mode another process refuses a logged-out token as soon as the announcement
  reaches it (milliseconds on a healthy bus; ``tests/integration/platform/test_revocations.py``).
  While the bus is away it cannot hear of it: the token then reads there until the bus is back
  or the token expires (``access_token_minutes``), whichever comes first.

Entries leave the list once the token would have expired anyway: the list is as small as the
number of sessions ended within one access-token lifetime.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

import jwt

from shared.auth import Actor, OrgPath, Role, actor_of_claims, read_claims
from shared.errors import DomainError
from shared.settings import Settings


class _VerifiedTokens:
    """Tokens already verified, with what they proved, by digest until they expire.

    For the regional SSO's tokens (the caller): verifying one may need the issuer's keys over
    the network, which the limiter must not wait for on the event loop; a token the routes
    verified once is recognised here until it expires. For our own (claims and actor): every
    request of a session carries the same token, and the limiter and the route each checked its
    signature, claims and scope anew. Bounded, least recently used first out.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def remember(self, token: str, proved: Any, expires_at: float) -> None:
        digest = self._digest(token)
        with self._lock:
            self._entries[digest] = (proved, expires_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def proved(self, token: str) -> Any | None:
        """What the token proved, or None: never verified here, forgotten, or expired."""
        with self._lock:
            found = self._entries.get(self._digest(token))
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    def caller(self, token: str) -> str | None:
        proved = self.proved(token)
        return None if proved is None else str(proved)


_sso_tokens = _VerifiedTokens()
#: Keyed by the secret with the token: a token verified under one secret proves nothing under
#: another (a test's, or one rotated).
_own_tokens = _VerifiedTokens()


class RevokedTokens:
    """The deny-list of logged-out access tokens: ``jti`` -> the token's own expiry (epoch)."""

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, jti: str, expires_at: float) -> None:
        now = self.clock()
        with self._lock:
            if expires_at > now:
                self._entries[jti] = expires_at
            if len(self._entries) % 256 == 0:  # amortised: an expired entry proves nothing
                for key in [k for k, until in self._entries.items() if until <= now]:
                    del self._entries[key]

    def __contains__(self, jti: object) -> bool:
        with self._lock:
            until = self._entries.get(str(jti))
        return until is not None and until > self.clock()

    def __len__(self) -> int:
        return len(self._entries)


REVOKED = RevokedTokens()


def _own_token(token: str, secret: str) -> tuple[dict[str, Any], Actor] | None:
    """Claims and actor of one of our tokens verified before and not expired, else None. Its
    revocation is checked on every use all the same: a logout takes effect at once."""
    found = _own_tokens.proved(f"{secret}\x00{token}")
    if found is not None and found[0]["jti"] in REVOKED:
        raise DomainError("TOKEN_REVOKED", "Сеанс завершён, войдите снова", 401)
    return found


def _verified_own(token: str, secret: str) -> tuple[dict[str, Any], Actor]:
    found = _own_token(token, secret)
    if found is None:
        claims = read_claims(token, secret)
        found = (claims, actor_of_claims(claims))
        if claims["jti"] in REVOKED:
            raise DomainError("TOKEN_REVOKED", "Сеанс завершён, войдите снова", 401)
        _own_tokens.remember(f"{secret}\x00{token}", found, float(claims["exp"]))
    return found


def own_token_claims(token: str, secret: str) -> dict[str, Any]:
    """Verified claims of one of our tokens that nobody logged out (401 ``TOKEN_REVOKED``)."""
    return _verified_own(token, secret)[0]


def read_own_token(token: str, secret: str) -> Actor:
    return _verified_own(token, secret)[1]


def _caller_of(actor: Actor) -> str:
    return f"{actor.role.value}:{actor.user}"


def verified_caller(token: str, secret: str) -> str | None:
    """The caller a token proves, or None when it proves nothing (forged, expired, unknown SSO)."""
    try:
        known = _own_token(token, secret)
    except DomainError:
        return None
    if known is not None:
        return _caller_of(known[1])
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None
    if algorithm == "RS256":
        return _sso_tokens.caller(token)
    try:
        return _caller_of(read_own_token(token, secret))
    except DomainError:
        return None


class OidcVerifier:
    """Accepts RS256 tokens of a regional single sign-on: signature by the issuer's JWKS, issuer,
    audience, expiry; the role and organisation path come from configured claims."""

    def __init__(self, settings: Settings) -> None:
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


def oidc_verifier(settings: Settings | None = None) -> OidcVerifier | None:
    s = settings or Settings()
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


def actor_from_token(token: str, secret: str, settings: Settings | None = None) -> Actor:
    """Our own HS256 access tokens, or — when configured — the regional SSO's RS256 ones."""
    known = _own_token(token, secret)
    if known is not None:
        return known[1]
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError as exc:
        raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401) from exc
    if algorithm == "RS256":
        verifier = oidc_verifier(settings)
        if verifier is None:
            raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401)
        return verifier.actor(token)
    return read_own_token(token, secret)
