"""Actor claims: who a request between services speaks for, asserted by the calling service.

A user's bearer token never travels on the bus. The service that took the user's HTTP request
(and checked the token there) states the actor in a short-lived assertion signed with its own
Ed25519 key (``shared.signing``; the bytes signed start with :data:`LABEL`, so an assertion can
never pass for an event signature nor an event for an assertion):

``{"iss": calling service, "aud": answering service, "user", "role", "scope", "iat", "exp",
"jti"}`` in the request's ``actor`` field, the hex signature in ``actor_signature``.

The answering service (:func:`verify`) accepts it only when the issuer's key verifies it, it is
addressed to itself, it has not expired (lifetime at most :data:`MAX_LIFETIME`), the issuer is one
of the route's ``callers`` (``shared.contracts``) and its ``jti`` was not seen before in this
process. Anything else is refused with 403 and a security log event.

JSON and hex only: no part of a request looks like a bearer token (no base64 of JSON, ``eyJ…``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from shared.auth import Actor, OrgPath, Role
from shared.contracts import RpcRoute
from shared.errors import DomainError
from shared.metrics import security_event
from shared.signing import Keyring

LABEL = b"nastavnik-actor-claims/v1\n"
CLAIMS_FIELD = "actor"
SIGNATURE_FIELD = "actor_signature"
#: How long an assertion is good for: one request and its retries, not a session.
LIFETIME = 60.0
MAX_LIFETIME = 120.0
#: Clocks of two hosts disagree a little; an assertion "from the future" within this is fine.
CLOCK_SKEW = 5.0
REQUIRED = ("iss", "aud", "user", "role", "scope", "iat", "exp", "jti")

_MESSAGES = {
    "RPC_CLAIMS_MISSING": "Запрос между сервисами без подписанного пользователя отклонён",
    "RPC_CLAIMS_FORGED": "Подпись запроса между сервисами не подтверждена",
    "RPC_CLAIMS_EXPIRED": "Срок действия запроса между сервисами истёк",
    "RPC_CLAIMS_WRONG_AUDIENCE": "Запрос адресован другому сервису",
    "RPC_CALLER_NOT_ALLOWED": "Этому сервису запрос не разрешён",
    "RPC_CLAIMS_REPLAYED": "Повторный запрос между сервисами отклонён",
}


def _canonical(claims: Mapping[str, Any]) -> bytes:
    return LABEL + json.dumps(claims, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def mint(keyring: Keyring, issuer: str, audience: str, actor: Actor, *,
         now: float | None = None, lifetime: float = LIFETIME) -> dict[str, Any]:
    """The ``actor`` and ``actor_signature`` fields of a request ``issuer`` sends ``audience``."""
    issued = time.time() if now is None else now
    claims = {"iss": issuer, "aud": audience, "user": actor.user, "role": actor.role.value,
              "scope": str(actor.scope), "iat": int(issued), "exp": int(issued + lifetime),
              "jti": secrets.token_hex(16)}
    signer = keyring.signer(issuer)  # LookupError: this process holds no key of that service
    return {CLAIMS_FIELD: claims, SIGNATURE_FIELD: signer.key.sign(_canonical(claims)).hex()}


class SeenAssertions:
    """``jti`` of assertions already accepted, until they expire: a captured request replayed
    within its lifetime is refused by the process that answered it."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v > now}
            until = self._entries.get(jti)
            if until is not None and until > now:
                return False
            self._entries[jti] = expires_at
            return True


SEEN = SeenAssertions()


@dataclass(frozen=True)
class Caller:
    """A verified request: the user it speaks for, the service that asked, the assertion's id."""

    actor: Actor
    service: str
    jti: str


def _refuse(code: str, route: RpcRoute, issuer: str = "") -> DomainError:
    security_event("rpc_refused", reason=code, actor=issuer, target=route.subject)
    return DomainError(code, _MESSAGES[code], 403)


def verify(keyring: Keyring, route: RpcRoute, request: Mapping[str, Any], *,
           now: float | None = None, seen: SeenAssertions | None = SEEN) -> Caller:
    """The caller of a request on ``route``, or a 403 ``DomainError`` (logged) saying why not."""
    claims = request.get(CLAIMS_FIELD)
    signature = request.get(SIGNATURE_FIELD)
    if not isinstance(claims, dict) or not isinstance(signature, str) \
            or any(k not in claims for k in REQUIRED):
        raise _refuse("RPC_CLAIMS_MISSING", route)
    issuer = str(claims["iss"])
    key = keyring.public.get(issuer)
    try:
        if key is None:
            raise InvalidSignature
        key.verify(bytes.fromhex(signature), _canonical(claims))
    except (InvalidSignature, ValueError):
        raise _refuse("RPC_CLAIMS_FORGED", route, issuer[:40]) from None
    if claims["aud"] != route.service:
        raise _refuse("RPC_CLAIMS_WRONG_AUDIENCE", route, issuer)
    if issuer not in route.callers:
        raise _refuse("RPC_CALLER_NOT_ALLOWED", route, issuer)
    moment = time.time() if now is None else now
    try:
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (TypeError, ValueError):
        raise _refuse("RPC_CLAIMS_MISSING", route, issuer) from None
    if not (issued - CLOCK_SKEW <= moment < expires) or expires - issued > MAX_LIFETIME:
        raise _refuse("RPC_CLAIMS_EXPIRED", route, issuer)
    try:
        actor = Actor(user=str(claims["user"]), role=Role(claims["role"]),
                      scope=OrgPath.parse(str(claims["scope"])))
    except (ValueError, TypeError):
        raise _refuse("RPC_CLAIMS_MISSING", route, issuer) from None
    jti = str(claims["jti"])
    if seen is not None and not seen.first_time(jti, expires, moment):
        raise _refuse("RPC_CLAIMS_REPLAYED", route, issuer)
    return Caller(actor, issuer, jti)
