"""A pair with another school's mentor over the real bus: a proposal that takes no place of the
mentor, confirmed or declined by the mentor's school, then seen and ended by either school; a
third school can do none of it."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from shared.auth import Role
from tests.integration.pairing.conftest import SCHOOL_A, SCHOOL_B, SURNAMES, System

SCHOOL_C = "demo/m1/school-c"


def load_of(system: System, mentor: str) -> int:
    pool = system.get(f"/pairing/organisations/{system.org['school-b']}/pool", scope=SCHOOL_B).json()
    return next(m["load"] for m in pool["mentors"] if m["id"] == mentor)


def listed(system: System, scope: str) -> dict[str, str]:
    response = system.get("/pairing/pairs", scope=scope)
    assert response.status_code == 200, response.text
    return {p["id"]: p["status"] for p in response.json()}


def propose(system: System, programme: str, mentor: str, mentee: str) -> dict[str, Any]:
    response = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor,
                                              "mentee_ids": [mentee]})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_cross_school_pair_is_agreed_by_the_mentors_school(system: System) -> None:
    system.org["school-c"] = system.post("/registry/organisations", {
        "code": "school-c", "name": "Школа school-c", "kind": "school",
        "parent_id": system.org["m1"]}, Role.REGIONAL, "demo").json()["id"]
    mentor, mentee = system.mentor("school-b", capacity=1), system.mentee()
    programme = system.programme()
    system.pools_caught_up()

    answer = propose(system, programme, mentor, mentee)
    pair = answer["id"]
    assert answer["status"] == "proposed"
    assert load_of(system, mentor) == 0  # a proposal takes no place of the mentor
    early = system.post(f"/pairing/pairs/{pair}/meetings", {
        "kind": "intro", "date": system.clock.today.isoformat(), "duration_minutes": 45})
    assert (early.status_code, early.json()["code"]) == (409, "PAIR_NOT_CONFIRMED")

    # Only the mentor's school answers: the proposer may not (403), a third school and a
    # stranger participant do not even learn that the pair exists (404).
    assert system.post(f"/pairing/pairs/{pair}/confirm").status_code == 403
    for headers in (system.headers(scope=SCHOOL_C), system.as_participant(str(uuid4()))):
        for url in (f"/pairing/pairs/{pair}/confirm", f"/pairing/pairs/{pair}/decline"):
            refused = system.post(url, headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (404, "PAIR_NOT_FOUND")
            assert pair not in refused.text
        assert system.get(f"/pairing/pairs/{pair}", headers=headers).status_code == 404

    incoming = system.get("/pairing/proposals", scope=SCHOOL_B).json()["incoming"]
    assert [(p["id"], p["organisation_name"]) for p in incoming] == [(pair, "Школа school-a")]
    confirmed = system.post(f"/pairing/pairs/{pair}/confirm", scope=SCHOOL_B)
    assert confirmed.status_code == 204, confirmed.text
    assert load_of(system, mentor) == 1

    # Both schools see the pair, with both organisations; the third sees nothing.
    for scope in (SCHOOL_A, SCHOOL_B):
        assert listed(system, scope) == {pair: "active"}
        card = system.get(f"/pairing/pairs/{pair}", scope=scope).json()
        assert (card["organisation_name"], card["mentor_organisation_name"]) == (
            "Школа school-a", "Школа school-b")
    assert listed(system, SCHOOL_C) == {}
    assert system.post(f"/pairing/pairs/{pair}/dissolve", {"reason": "чужая пара"},
                       scope=SCHOOL_C).status_code == 404
    assert system.post(f"/pairing/pairs/{pair}/meetings", {
        "kind": "intro", "date": system.clock.today.isoformat(), "duration_minutes": 45
    }).status_code == 201

    # Either school may end it: here the mentor's; the place is free again.
    ended = system.post(f"/pairing/pairs/{pair}/dissolve", {"reason": "наставник уходит в отпуск"},
                        scope=SCHOOL_B)
    assert ended.status_code == 200, ended.text
    assert listed(system, SCHOOL_A) == {pair: "dissolved"}
    assert load_of(system, mentor) == 0

    # The bus carries the proposal and its confirmation, and no name of anyone.
    events = system.published()
    kinds = [e.type for e in events if str(e.aggregate_id) == pair]
    assert kinds == ["PairProposed", "PairProposalConfirmed", "MeetingHeld", "PairDissolved"]
    confirmation = next(e for e in events if e.type == "PairProposalConfirmed")
    assert (str(confirmation.org), confirmation.payload["mentee_ids"]) == (SCHOOL_A, [mentee])
    assert not any(name in e.to_bytes().decode() for e in events for name in SURNAMES)


def test_a_declined_proposal_comes_back_with_its_reason(system: System) -> None:
    mentor, mentee = system.mentor("school-b"), system.mentee()
    programme = system.programme()
    system.pools_caught_up()
    pair = propose(system, programme, mentor, mentee)["id"]
    declined = system.post(f"/pairing/pairs/{pair}/decline", {"reason": "Наставник занят до января"},
                           scope=SCHOOL_B)
    assert declined.status_code == 204, declined.text

    [mine] = system.get("/pairing/proposals").json()["outgoing"]
    assert (mine["id"], mine["status"], mine["decline_reason"]) == (
        pair, "declined", "Наставник занят до января")
    assert system.get("/pairing/proposals", scope=SCHOOL_B).json()["incoming"] == []
    assert load_of(system, mentor) == 0
    # The mentee is free for another pair; the reason never left the pairing service.
    another = system.mentor("school-b")
    system.pools_caught_up()
    assert propose(system, programme, another, mentee)["status"] == "proposed"
    events = system.published()
    refusal = next(e for e in events if e.type == "PairProposalDeclined")
    assert "января" not in refusal.to_bytes().decode()
