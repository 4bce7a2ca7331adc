"""Participants sign in with the curator's invitation: a one-time code (for a minor, given to
the guardian), accepted with a login and a password; then they see only their own pairs and give
their own feedback. The registry and the pairing in one host on a real NATS."""

from __future__ import annotations

import re
from typing import Any

from shared.auth import Role
from shared.metrics import SECURITY_EVENTS
from tests.integration.pairing.conftest import SCHOOL_A, SCHOOL_B, System

PASSWORD = "Ласточка-над-рекой-2026"
CODE = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


def error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert body["message"] and any("а" <= ch <= "я" for ch in body["message"].lower()), body
    return response.status_code, body["code"]


def invite(system: System, person_id: str, scope: str = SCHOOL_A) -> Any:
    return system.post(f"/registry/people/{person_id}/invitation", scope=scope)


def accept(system: System, code: str, login: str, password: str = PASSWORD) -> Any:
    return system.client.post("/auth/invitation/accept",
                              json={"code": code, "login": login, "password": password})


def refusals(reason: str) -> float:
    """Failed sign-ins counted (``security.login_failed``) for this reason."""
    return sum(sample.value for metric in SECURITY_EVENTS.collect() for sample in metric.samples
               if sample.name.endswith("_total") and sample.labels["event"] == "login_failed"
               and sample.labels["reason"] == reason)


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def test_an_invitation_is_issued_once_used_once_and_only_by_the_own_curator(system: System) -> None:
    mentor_id = system.mentor()
    issued = invite(system, mentor_id)
    assert issued.status_code == 201, issued.text
    first = issued.json()
    assert CODE.match(first["code"]) and first["holder"] == "person"

    # Another school's curator cannot tell the person exists; a municipality may not invite.
    assert error(invite(system, mentor_id, SCHOOL_B)) == (404, "PERSON_NOT_FOUND")
    municipal = system.post(f"/registry/people/{mentor_id}/invitation", role=Role.MUNICIPAL,
                            scope="demo/m1")
    assert error(municipal) == (403, "FORBIDDEN")

    # Issuing again ends the first code.
    second = invite(system, mentor_id).json()["code"]
    assert error(accept(system, first["code"], "smirnov")) == (401, "INVALID_INVITATION")
    # A weak password is refused before the code is spent.
    assert accept(system, second, "smirnov", "qwerty12345").status_code == 422
    # Typed by hand: lower case, no dashes.
    signed = accept(system, second.replace("-", " ").lower(), "smirnov")
    assert signed.status_code == 201, signed.text
    session = signed.json()
    assert (session["role"], session["login"]) == ("participant", "smirnov")
    me = system.get("/auth/me", headers=bearer(session)).json()
    assert (me["user"], me["holder"]) == (mentor_id, "person")
    # Single use, and a reuse is a security event; the person now has an account.
    reused = refusals("INVITATION_USED")
    assert error(accept(system, second, "smirnov-2")) == (401, "INVALID_INVITATION")
    assert refusals("INVITATION_USED") == reused + 1
    # The password chosen signs in as usual.
    again = system.client.post("/auth/login", json={"login": "smirnov", "password": PASSWORD})
    assert again.status_code == 200 and again.json()["role"] == "participant"

    # Consent withdrawn: the account and its sessions end at once.
    system.withdraw(mentor_id)
    assert system.get("/auth/me", headers=bearer(session)).status_code == 401
    assert system.get("/auth/me", headers=bearer(again.json())).status_code == 401
    assert system.client.post("/auth/refresh", json={
        "refresh_token": again.json()["refresh_token"]}).status_code == 401
    refused = system.client.post("/auth/login", json={"login": "smirnov", "password": PASSWORD})
    assert refused.status_code == 401


def test_a_new_code_is_the_participants_reset(system: System) -> None:
    """A participant who forgot the password (or whose code went astray): the curator issues a
    new code; the old password and every session end at once, the new code gives the account
    back with a password chosen now."""
    mentor_id = system.mentor()
    session = accept(system, invite(system, mentor_id).json()["code"], "lebedev").json()
    assert system.get("/auth/me", headers=bearer(session)).status_code == 200

    reset = invite(system, mentor_id)
    assert reset.status_code == 201 and reset.json()["reset"] is True, reset.text
    assert system.get("/auth/me", headers=bearer(session)).status_code == 401
    assert system.client.post("/auth/refresh", json={
        "refresh_token": session["refresh_token"]}).status_code == 401
    assert system.client.post("/auth/login", json={
        "login": "lebedev", "password": PASSWORD}).status_code == 401

    fresh = accept(system, reset.json()["code"], "lebedev", "другой-пароль-лебедева-9")
    assert fresh.status_code == 201, fresh.text
    assert system.get("/auth/me", headers=bearer(fresh.json())).json()["user"] == mentor_id
    assert error(accept(system, reset.json()["code"], "lebedev-2")) == (401, "INVALID_INVITATION")


def test_an_expired_code_is_refused_and_wrong_codes_are_delayed(system: System) -> None:
    accounts = system.registry.service.accounts
    now = accounts.clock
    # A code issued longer ago than the invitation period.
    accounts.clock = lambda: now() - (system.settings.invitation_days + 1) * 86400
    try:
        code = invite(system, system.mentor()).json()["code"]
    finally:
        accounts.clock = now
    expired = refusals("INVITATION_EXPIRED")
    assert error(accept(system, code, "late")) == (401, "INVALID_INVITATION")
    assert refusals("INVITATION_EXPIRED") == expired + 1
    # Guessing codes is sign-in guessing: after the free failures, the address waits.
    answers = [accept(system, "AAAA-BBBB-CCCC", "guess").status_code
               for _ in range(system.settings.login_max_failures + 1)]
    assert answers[-1] == 429 and set(answers[:-2]) == {401}, answers


def test_a_minors_guardian_signs_in_gives_feedback_and_sees_no_other_pair(system: System) -> None:
    mentor_id, mentee_id = system.mentor(capacity=2), system.mentee()
    other_mentee = system.mentee()
    system.pools_caught_up()
    pairs = [system.post("/pairing/pairs", {"form": "teacher-student", "mentor_id": mentor_id,
                                            "mentee_ids": [m]}).json()["id"]
             for m in (mentee_id, other_mentee)]
    mine, theirs = pairs
    today = system.clock.today.isoformat()
    held = system.post(f"/pairing/pairs/{mine}/meetings", {
        "kind": "intro", "date": today, "duration_minutes": 45, "format": "in_person"})
    assert held.status_code == 201, held.text

    issued = invite(system, mentee_id).json()
    assert issued["holder"] == "guardian"  # a minor's code is for the guardian, acting for them
    signed = accept(system, issued["code"], "orlova-guardian")
    assert signed.status_code == 201, signed.text
    guardian = bearer(signed.json())
    assert system.get("/auth/me", headers=guardian).json()["holder"] == "guardian"

    listed = system.get("/pairing/pairs", headers=guardian).json()
    assert [p["id"] for p in listed] == [mine]
    answer = system.post(f"/pairing/pairs/{mine}/feedback",
                         {"meeting_number": 1, "satisfaction": 8, "went_well": "Познакомились"},
                         headers=guardian)
    assert answer.json() == {"side": "mentee"}, answer.text
    # The mentor has not answered yet: the guardian sees only the child's own feedback.
    seen = system.get(f"/pairing/pairs/{mine}/meetings/1/feedback", headers=guardian).json()
    assert [f["side"] for f in seen] == ["mentee"]
    # Another pair, another person's record, the school's people: as if they did not exist.
    assert error(system.get(f"/pairing/pairs/{theirs}", headers=guardian)) == (404, "PAIR_NOT_FOUND")
    assert system.get(f"/registry/people/{other_mentee}", headers=guardian).status_code == 404
    # A participant issues no invitations.
    refused = system.post(f"/registry/people/{other_mentee}/invitation", headers=guardian)
    assert refused.status_code == 404
