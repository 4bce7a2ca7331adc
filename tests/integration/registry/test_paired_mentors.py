"""``GET /registry/paired-mentors`` over the real bus: the registry asks the pairing service
which of the pairs the user sees are confirmed with another organisation's mentor, and names
those mentors with their organisation. A proposal names nobody; a third school learns nothing."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.integration.pairing.conftest import SCHOOL_A, SCHOOL_B, SURNAMES, System, system
from tests.integration.pairing.test_cross_organisation import propose

__all__ = ["system"]
SCHOOL_C = "demo/m1/school-c"


def paired(system: System, pair: str, scope: str = SCHOOL_A) -> Any:
    response = system.get("/registry/paired-mentors", scope=scope, pair_id=[pair])
    assert response.status_code == 200, response.text
    return response.json()["pairs"]


def test_a_confirmed_pair_names_its_mentor_from_another_school(system: System) -> None:
    system.org["school-c"] = system.post("/registry/organisations", {
        "code": "school-c", "name": "Школа school-c", "kind": "school",
        "parent_id": system.org["m1"]}, Role.REGIONAL, "demo").json()["id"]
    mentor, mentee = system.mentor("school-b"), system.mentee()
    programme = system.programme()
    system.pools_caught_up()
    surname = system.get(f"/registry/people/{mentor}", scope=SCHOOL_B).json()["full_name"]
    assert surname.split()[0] in SURNAMES

    pair = propose(system, programme, mentor, mentee)["id"]
    assert paired(system, pair) == {}  # a proposal: the mentor stays unnamed
    assert system.post(f"/pairing/pairs/{pair}/confirm", scope=SCHOOL_B).status_code == 204

    assert paired(system, pair) == {pair: {"mentor_id": mentor, "full_name": surname,
                                           "organisation_name": "Школа school-b"}}
    # A third school sees no pair at all.
    assert paired(system, pair, SCHOOL_C) == {}
    # Still nothing for a participant or an auditor: the pair grants curators sight.
    refused = system.get("/registry/paired-mentors", role=Role.PARTICIPANT, pair_id=[pair],
                         headers=system.as_participant(mentee))
    assert refused.status_code == 403
