"""A session's token is verified once and recognised on its next requests; what must hold on
every request still does: a logout, another secret, a tampered token."""

from __future__ import annotations

import pytest

from shared.auth import Actor, OrgPath, Role, issue_token, read_claims
from shared.errors import DomainError
from shared.tokens import REVOKED, actor_from_token, verified_caller

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"
OTHER = "another-secret-of-at-least-thirty-two-bytes"
CURATOR = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))


def test_a_token_proves_its_actor_on_every_request() -> None:
    token = issue_token(CURATOR, SECRET)
    assert actor_from_token(token, SECRET) == CURATOR
    assert actor_from_token(token, SECRET) == CURATOR
    assert verified_caller(token, SECRET) == "curator:curator-1"


def test_a_logout_refuses_a_token_already_recognised() -> None:
    token = issue_token(CURATOR, SECRET)
    assert actor_from_token(token, SECRET) == CURATOR
    claims = read_claims(token, SECRET)
    REVOKED.revoke(claims["jti"], float(claims["exp"]))
    with pytest.raises(DomainError) as refused:
        actor_from_token(token, SECRET)
    assert refused.value.code == "TOKEN_REVOKED" and refused.value.status == 401
    assert verified_caller(token, SECRET) is None


def test_a_token_recognised_under_one_secret_proves_nothing_under_another() -> None:
    token = issue_token(CURATOR, SECRET)
    assert actor_from_token(token, SECRET) == CURATOR
    with pytest.raises(DomainError) as refused:
        actor_from_token(token, OTHER)
    assert refused.value.code == "UNAUTHENTICATED"
    assert verified_caller(token, OTHER) is None


def test_a_tampered_copy_of_a_recognised_token_is_refused() -> None:
    token = issue_token(CURATOR, SECRET)
    assert actor_from_token(token, SECRET) == CURATOR
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(DomainError) as refused:
        actor_from_token(tampered, SECRET)
    assert refused.value.code == "UNAUTHENTICATED"
