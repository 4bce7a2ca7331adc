"""The pairing's pairs responder, asked directly over NATS request/reply: it says which pairs
exist and how they were formed, scoped to the user the documents service's signed claims name, as
``GET /pairing/pairs/{id}`` is."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any
from uuid import uuid4

from shared import bus, claims, sealed, signing
from shared.auth import Actor, OrgPath, Role
from shared.contracts import PAIRS
from tests.integration.pairing.conftest import SCHOOL_A, SCHOOL_B, System


def ask(system: System, request: Any) -> dict[str, Any]:
    """The reply (opened) to ``request``; its ``as`` is the actor, in fresh claims signed as the
    documents service signs them."""
    jti = ""
    if isinstance(request, dict) and "as" in request:
        asserted = claims.mint(signing.current(), "documents", "pairing", request.pop("as"))
        request = {**request, **asserted}
        jti = asserted["actor"]["jti"]

    async def run() -> bytes:
        # As the documents service asks: only services may receive these replies.
        nc = await bus.connect(system.settings.nats_url, "documents", system.settings, service="documents")
        try:
            data = request if isinstance(request, bytes) else json.dumps(request).encode()
            return (await nc.request(PAIRS.subject, data, timeout=10)).data
        finally:
            await nc.close()

    raw = asyncio.run(run())
    if sealed.is_sealed(raw):
        raw = sealed.open_sealed(signing.current(), "pairing", "documents", raw,
                                 sealed.context_of(PAIRS.subject, jti))
    return dict(json.loads(raw))


def token(system: System, role: Role, scope: str, user: str = "u") -> Actor:
    """Who a request speaks for (no token travels: ``ask`` signs claims for this actor)."""
    return Actor(user=user, role=role, scope=OrgPath.parse(scope))


def form(system: System, programme: str, mentor: str, *mentees: str, school: str = SCHOOL_A) -> str:
    response = system.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor,
                                              "mentee_ids": list(mentees)}, scope=school)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_pairs_as_formed_for_whoever_may_read_them(system: System) -> None:
    mentor, other_mentor = system.mentor(capacity=3), system.mentor("school-b")
    mentees = [system.mentee(), system.mentee()]
    theirs = system.mentee("school-b")
    programmes = {"a": system.programme(), "b": system.programme("school-b")}
    system.pools_caught_up()
    group = form(system, programmes["a"], mentor, *mentees)
    other = form(system, programmes["b"], other_mentor, theirs, school=SCHOOL_B)
    unknown = str(uuid4())

    curator = token(system, Role.CURATOR, SCHOOL_A)
    reply = ask(system, {"as": curator, "pair_ids": [group, other, unknown, group]})
    assert reply["missing"] == [other, unknown]  # another school's pair is as unknown as none
    assert reply["pairs"] == {group: {
        "status": "active", "organisation_id": system.org["school-a"], "path": SCHOOL_A,
        "form": "teacher-student", "form_title": "Учитель – ученик", "mentor_id": mentor,
        "mentee_ids": sorted(mentees), "formed_on": reply["pairs"][group]["formed_on"],
        "mentor_organisation_name": None}}  # the school's own mentor
    assert date.fromisoformat(reply["pairs"][group]["formed_on"])

    # A development plan asks for the goals too: opened by pairing for that user (the reply is
    # sealed to the documents service); an order does not ask, and gets none.
    goal = system.post(f"/pairing/pairs/{group}/goals",
                       {"title": "Подготовить проект к конкурсу", "due": "2027-03-01"})
    assert goal.status_code == 201, goal.text
    planned = ask(system, {"as": curator, "pair_ids": [group], "with_goals": True})
    assert planned["pairs"][group]["goals"] == [
        {"title": "Подготовить проект к конкурсу", "due": "2027-03-01", "status": "planned"}]
    assert "goals" not in ask(system, {"as": curator, "pair_ids": [group]})["pairs"][group]

    # The municipality and an auditor of the region read both; a member reads their own pair.
    for role, scope in ((Role.MUNICIPAL, "demo/m1"), (Role.AUDITOR, "demo")):
        both = ask(system, {"as": token(system, role, scope), "pair_ids": [group, other]})
        assert sorted(both["pairs"]) == sorted([group, other]) and both["missing"] == []
    member = ask(system, {"as": token(system, Role.PARTICIPANT, SCHOOL_A, mentees[1]),
                          "pair_ids": [group, other]})
    assert list(member["pairs"]) == [group] and member["missing"] == [other]
    stranger = ask(system, {"as": token(system, Role.PARTICIPANT, SCHOOL_A, str(uuid4())),
                            "pair_ids": [group]})
    assert stranger == {"pairs": {}, "missing": [group]}

    # A dissolved pair is still known, as dissolved, with the mentees it had.
    dissolved = system.post(f"/pairing/pairs/{group}/dissolve", {"reason": "переезд"})
    assert dissolved.status_code == 200, dissolved.text
    after = ask(system, {"as": curator, "pair_ids": [group]})["pairs"][group]
    assert (after["status"], after["mentee_ids"]) == ("dissolved", sorted(mentees))


def test_bad_requests_get_an_error_and_no_pairs(system: System) -> None:
    curator = token(system, Role.CURATOR, SCHOOL_A)
    assert ask(system, {"token": "eyJhbGciOiJIUzI1NiJ9", "pair_ids": []})["error"]["code"] == \
        "RPC_CLAIMS_MISSING"
    for request in ({"as": curator, "pair_ids": ["not-a-uuid"]}, {"as": curator},
                    {"as": curator, "pair_ids": [str(uuid4())] * 2001}, b"\xff not json", b"[]"):
        reply = ask(system, request)
        assert reply["error"]["code"] == "INVALID_REQUEST" and reply["error"]["status"] == 422, request
    assert ask(system, {"as": curator, "pair_ids": []}) == {"pairs": {}, "missing": []}
