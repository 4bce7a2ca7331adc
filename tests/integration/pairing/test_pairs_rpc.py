"""The pairing's pairs responder, asked directly over NATS request/reply: it says which pairs
exist and how they were formed, scoped by the asking user's token as ``GET /pairing/pairs/{id}``."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import uuid4

from shared import bus
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.contracts import PAIRS
from tests.integration.pairing.conftest import SCHOOL_A, SCHOOL_B, System


def ask(system: System, request: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        # As the documents service asks: only services may receive these replies.
        nc = await bus.connect(system.settings.nats_url, "documents", system.settings, service="documents")
        try:
            data = request if isinstance(request, bytes) else json.dumps(request).encode()
            return dict(json.loads((await nc.request(PAIRS.subject, data, timeout=10)).data))
        finally:
            await nc.close()

    return asyncio.run(run())


def token(system: System, role: Role, scope: str, user: str = "u") -> str:
    return issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)),
                       system.settings.signing_secret)


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
    reply = ask(system, {"token": curator, "pair_ids": [group, other, unknown, group]})
    assert reply["missing"] == [other, unknown]  # another school's pair is as unknown as none
    assert reply["pairs"] == {group: {
        "status": "active", "organisation_id": system.org["school-a"], "path": SCHOOL_A,
        "form": "teacher-student", "form_title": "Учитель – ученик", "mentor_id": mentor,
        "mentee_ids": sorted(mentees)}}

    # The municipality and an auditor of the region read both; a member reads their own pair.
    for role, scope in ((Role.MUNICIPAL, "demo/m1"), (Role.AUDITOR, "demo")):
        both = ask(system, {"token": token(system, role, scope), "pair_ids": [group, other]})
        assert sorted(both["pairs"]) == sorted([group, other]) and both["missing"] == []
    member = ask(system, {"token": token(system, Role.PARTICIPANT, SCHOOL_A, mentees[1]),
                          "pair_ids": [group, other]})
    assert list(member["pairs"]) == [group] and member["missing"] == [other]
    stranger = ask(system, {"token": token(system, Role.PARTICIPANT, SCHOOL_A, str(uuid4())),
                            "pair_ids": [group]})
    assert stranger == {"pairs": {}, "missing": [group]}

    # A dissolved pair is still known, as dissolved, with the mentees it had.
    dissolved = system.post(f"/pairing/pairs/{group}/dissolve", {"reason": "переезд"})
    assert dissolved.status_code == 200, dissolved.text
    after = ask(system, {"token": curator, "pair_ids": [group]})["pairs"][group]
    assert (after["status"], after["mentee_ids"]) == ("dissolved", sorted(mentees))


def test_bad_requests_get_an_error_and_no_pairs(system: System) -> None:
    curator = token(system, Role.CURATOR, SCHOOL_A)
    assert ask(system, {"token": "forged", "pair_ids": []})["error"]["code"] == "UNAUTHENTICATED"
    for request in ({"token": curator, "pair_ids": ["not-a-uuid"]}, {"token": curator},
                    {"token": curator, "pair_ids": [str(uuid4())] * 2001}, b"\xff not json", b"[]"):
        reply = ask(system, request)
        assert reply["error"]["code"] == "INVALID_REQUEST" and reply["error"]["status"] == 422, request
    assert ask(system, {"token": curator, "pair_ids": []}) == {"pairs": {}, "missing": []}
