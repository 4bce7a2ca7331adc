"""Requests between services: the user they speak for is asserted by the calling service (short
lived, addressed to one service, signed, used once), and every reply is encrypted to the caller."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import structlog

from shared import claims, rpc, sealed, signing
from shared.auth import Actor, OrgPath, Role
from shared.contracts import CONTACTS, DASHBOARD, NAMES, PAIRS, RPC_ROUTES
from shared.errors import DomainError

KEYS = signing.Keyring.generate()
CURATOR = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/school-a"))
CHILD = "Орлов Егор Ильич"


def asked(audience: str = "registry", issuer: str = "documents", keys: signing.Keyring = KEYS,
          **kwargs: Any) -> dict[str, Any]:
    return {"person_ids": [], **claims.mint(keys, issuer, audience, CURATOR, **kwargs)}


def refusal(request: dict[str, Any], route: Any = NAMES, **kwargs: Any) -> str:
    with pytest.raises(DomainError) as refused:
        claims.verify(KEYS, route, request, seen=claims.SeenAssertions(), **kwargs)
    assert refused.value.status == 403
    assert refused.value.message and not refused.value.message.isascii()  # said in Russian
    return refused.value.code


def test_claims_of_the_calling_service_name_the_user_and_nothing_like_a_token() -> None:
    request = asked()
    caller = claims.verify(KEYS, NAMES, request, seen=claims.SeenAssertions())
    assert (caller.actor, caller.service) == (CURATOR, "documents")
    text = json.dumps(request)
    assert "eyJ" not in text and "token" not in text
    assert request["actor"]["exp"] - request["actor"]["iat"] == claims.LIFETIME


def test_missing_forged_expired_misaddressed_foreign_and_replayed_claims_are_refused() -> None:
    assert refusal({"person_ids": []}) == "RPC_CLAIMS_MISSING"
    tampered = asked()
    tampered["actor"] = {**tampered["actor"], "role": "regional", "scope": "demo"}
    assert refusal(tampered) == "RPC_CLAIMS_FORGED"
    assert refusal(asked(keys=signing.Keyring.generate())) == "RPC_CLAIMS_FORGED"  # another key
    assert refusal(asked(issuer="pairing")) == "RPC_CALLER_NOT_ALLOWED"  # signed, not a caller
    assert refusal(asked(audience="pairing")) == "RPC_CLAIMS_WRONG_AUDIENCE"
    assert refusal(asked(audience="registry"), PAIRS) == "RPC_CLAIMS_WRONG_AUDIENCE"
    old = asked(now=time.time() - claims.LIFETIME - 1)
    assert refusal(old) == "RPC_CLAIMS_EXPIRED"
    long_lived = asked(lifetime=3600)
    assert refusal(long_lived) == "RPC_CLAIMS_EXPIRED"
    once = asked()
    seen = claims.SeenAssertions()
    claims.verify(KEYS, NAMES, once, seen=seen)
    with pytest.raises(DomainError) as replayed:
        claims.verify(KEYS, NAMES, once, seen=seen)
    assert replayed.value.code == "RPC_CLAIMS_REPLAYED"


def test_a_refusal_is_a_security_event() -> None:
    with structlog.testing.capture_logs() as logs:
        refusal(asked(audience="pairing"))
    event = next(e for e in logs if e["event"] == "security.rpc_refused")
    assert event["reason"] == "RPC_CLAIMS_WRONG_AUDIENCE"
    assert (event["actor"], event["target"]) == ("documents", NAMES.subject)


def test_a_sealed_reply_opens_only_for_its_recipient_request_and_sender() -> None:
    context = sealed.context_of(NAMES.subject, "jti-1")
    box = sealed.seal(KEYS, "registry", "documents", CHILD.encode(), context)
    assert CHILD.encode() not in box
    assert sealed.open_sealed(KEYS, "registry", "documents", box, context) == CHILD.encode()
    for sender, recipient, ctx in (("registry", "pairing", context),  # another service
                                   ("pairing", "documents", context),  # not who answered
                                   ("registry", "documents", sealed.context_of(NAMES.subject, "jti-2"))):
        with pytest.raises(sealed.SealError):
            sealed.open_sealed(KEYS, sender, recipient, box, ctx)
    altered = box[:-1] + bytes([box[-1] ^ 1])
    with pytest.raises(sealed.SealError):
        sealed.open_sealed(KEYS, "registry", "documents", altered, context)
    stranger = signing.Keyring.generate()  # the same names, other keys: opens nothing
    with pytest.raises(sealed.SealError):
        sealed.open_sealed(stranger, "registry", "documents", box, context)


def test_every_reply_is_sealed_to_the_caller_and_a_refusal_before_is_plain() -> None:
    request = asked()
    reply = rpc.answer(NAMES, lambda actor, _: {"people": {"p1": {"full_name": CHILD}}},
                       json.dumps(request).encode(), KEYS)
    assert sealed.is_sealed(reply) and CHILD.encode() not in reply
    opened = sealed.open_sealed(KEYS, "registry", "documents", reply,
                                sealed.context_of(NAMES.subject, request["actor"]["jti"]))
    assert json.loads(opened)["people"]["p1"]["full_name"] == CHILD
    refused = json.loads(rpc.answer(NAMES, lambda actor, _: {}, b'{"token": "eyJhbGciOi"}', KEYS))
    assert refused["error"]["code"] == "RPC_CLAIMS_MISSING" and refused["error"]["status"] == 403


def test_every_route_names_its_callers_and_the_names_route_carries_personal_data() -> None:
    assert set(RPC_ROUTES) == {NAMES.subject, PAIRS.subject, DASHBOARD.subject, CONTACTS.subject}
    assert all(route.callers for route in RPC_ROUTES.values())
    assert NAMES.personal_data
    # Addresses go only to the notifications' mailer.
    assert CONTACTS.personal_data and CONTACTS.callers == ("monitoring",)


def test_exchange_keys_are_kept_beside_the_signing_keys(tmp_path: Path) -> None:
    folder = tmp_path / "signing"
    KEYS.write(folder)
    loaded = signing.Keyring.load(folder)
    assert set(loaded.exchange_private) == set(loaded.exchange_public) == set(KEYS.public)
    assert all((folder / f"{s}.x25519.key").stat().st_mode & 0o777 == 0o600 for s in KEYS.public)
    box = sealed.seal(KEYS, "registry", "documents", b"x", b"c")
    assert sealed.open_sealed(loaded, "registry", "documents", box, b"c") == b"x"
