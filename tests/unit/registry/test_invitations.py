"""Invitations on the registry's service layer (in memory): the code's shape, that only its hash
is kept, one live code per person, and who may issue one."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from services.registry.application import RegistryService
from services.registry.invitations import ALPHABET, invitations, normalise
from shared.auth import Role
from shared.errors import DomainError
from tests.unit.registry.conftest import MUNICIPALITY, SCHOOL_A, SCHOOL_B, Region, acting
from tests.unit.registry.test_service_layer import curator, mentee, mentor

PASSWORD = "окно-лимон-трамвай-сорок"


def code_of(error_call) -> str:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        error_call()
    return info.value.code


def test_a_code_is_printable_stored_only_hashed_and_replaced_on_reissue(
        registry: RegistryService, region: Region) -> None:
    [child] = registry.register_people(curator(SCHOOL_A), [mentee(region.ids[SCHOOL_A])])
    first = registry.invitations.issue(curator(SCHOOL_A).actor, child)
    assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", first.code)
    assert first.holder == "guardian"
    second = registry.invitations.issue(curator(SCHOOL_A).actor, child)
    with registry.engine.connect() as conn:
        rows = conn.execute(sa.select(invitations)).all()
    assert len(rows) == 1 and rows[0].code_hash != normalise(second.code)
    assert not any(normalise(c) in str(tuple(rows[0])) for c in (first.code, second.code))
    assert code_of(lambda: registry.invitations.accept(first.code, "anna", PASSWORD, "a")) \
        == "INVALID_INVITATION"
    session = registry.invitations.accept(second.code.lower(), "anna", PASSWORD, "a")
    assert (session.account.role, session.account.person_id) == (Role.PARTICIPANT, child)


def test_only_the_own_curator_invites(registry: RegistryService, region: Region) -> None:
    [adult] = registry.register_people(curator(SCHOOL_A), [mentor(region.ids[SCHOOL_A])])
    assert registry.invitations.issue(curator(SCHOOL_A).actor, adult).holder == "person"
    assert code_of(lambda: registry.invitations.issue(curator(SCHOOL_B).actor, adult)) \
        == "PERSON_NOT_FOUND"
    municipal = acting(Role.MUNICIPAL, MUNICIPALITY).actor
    assert code_of(lambda: registry.invitations.issue(municipal, adult)) == "FORBIDDEN"


def test_a_new_code_resets_a_participants_sign_in(registry: RegistryService, region: Region) -> None:
    """The participant's reset: the curator issues a new code to someone who already signed in;
    the old password and the old sessions stop at once, the new code gives the account back
    (the same login may be chosen again) and the first code stays spent."""
    [adult] = registry.register_people(curator(SCHOOL_A), [mentor(region.ids[SCHOOL_A])])
    first = registry.invitations.issue(curator(SCHOOL_A).actor, adult)
    session = registry.invitations.accept(first.code, "pavel", PASSWORD, "a")

    reset = registry.invitations.issue(curator(SCHOOL_A).actor, adult)
    assert reset.reset and not first.reset
    assert code_of(lambda: registry.accounts.login("pavel", PASSWORD, None, "a")) \
        == "INVALID_CREDENTIALS"
    assert code_of(lambda: registry.accounts.refresh(session.refresh_token)) \
        == "INVALID_REFRESH_TOKEN"
    assert code_of(lambda: registry.invitations.accept(first.code, "pavel", PASSWORD, "b")) \
        == "INVALID_INVITATION"

    again = registry.invitations.accept(reset.code, "pavel", "новый-пароль-для-павла-7", "a")
    assert (again.account.login, again.account.person_id) == ("pavel", adult)
    assert registry.accounts.login("pavel", "новый-пароль-для-павла-7", None, "a").account.person_id \
        == adult
    assert code_of(lambda: registry.accounts.login("pavel", PASSWORD, None, "a")) \
        == "INVALID_CREDENTIALS"


def test_a_reset_code_takes_no_one_elses_login(registry: RegistryService, region: Region) -> None:
    adult, other = registry.register_people(curator(SCHOOL_A), [mentor(region.ids[SCHOOL_A]),
                                                                mentee(region.ids[SCHOOL_A])])
    registry.invitations.accept(registry.invitations.issue(curator(SCHOOL_A).actor, other).code,
                                "taken", PASSWORD, "a")
    registry.invitations.accept(registry.invitations.issue(curator(SCHOOL_A).actor, adult).code,
                                "mine", PASSWORD, "a")
    reset = registry.invitations.issue(curator(SCHOOL_A).actor, adult)
    assert code_of(lambda: registry.invitations.accept(reset.code, "taken", PASSWORD, "a")) \
        == "DUPLICATE_LOGIN"
    assert registry.accounts.login("taken", PASSWORD, None, "a").account.person_id == other
    assert registry.invitations.accept(reset.code, "mine2", PASSWORD, "a").account.login == "mine2"
