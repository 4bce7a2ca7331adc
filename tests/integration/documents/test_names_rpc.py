"""The registry's names responder, asked directly over NATS request/reply."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from shared import bus
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.contracts import NAMES
from tests.integration.documents.conftest import System, register


def ask(system: System, request: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        # As the documents service asks: only services may receive these replies.
        nc = await bus.connect(system.settings.nats_url, "documents", system.settings, service="documents")
        try:
            data = request if isinstance(request, bytes) else json.dumps(request).encode()
            return json.loads((await nc.request(NAMES.subject, data, timeout=10)).data)
        finally:
            await nc.close()

    return asyncio.run(run())


def token(system: System, role: Role, scope: str) -> str:
    return issue_token(Actor(user="u", role=role, scope=OrgPath.parse(scope)),
                       system.settings.signing_secret)


def test_names_only_for_issuers_within_their_scope(system: System) -> None:
    mine = register(system, "mentee", "school-a", "Орлов", "Егор", "Ильич", "2013-05-02",
                    guardian_name="Орлова Мария Ивановна")
    theirs = register(system, "mentor", "school-b", "Чужой", "Виктор", "Павлович", "1980-01-01")

    reply = ask(system, {"token": token(system, Role.CURATOR, "demo/m1/school-a"),
                         "person_ids": [mine, theirs]})
    assert reply["missing"] == [theirs]
    label = reply["people"][mine]["label"]
    assert label.startswith("Наставляемый №")
    assert reply["people"][mine] == {
        "full_name": "Орлов Егор Ильич", "last_name": "Орлов", "first_name": "Егор",
        "middle_name": "Ильич", "birth_date": "2013-05-02", "guardian_name": "Орлова Мария Ивановна",
        "role": "mentee", "organisation_id": system.ids["school-a"], "pseudonymous": False,
        "label": label, "protected": True}
    # Above the school: the child by label (152-ФЗ, ст. 5), the adult mentor by name only.
    municipal = ask(system, {"token": token(system, Role.MUNICIPAL, "demo/m1"),
                             "person_ids": [mine, theirs]})
    assert sorted(municipal["people"]) == sorted([mine, theirs]) and municipal["missing"] == []
    assert municipal["people"][mine] == {
        "full_name": label, "last_name": None, "first_name": None, "middle_name": None,
        "birth_date": None, "guardian_name": None, "role": "mentee",
        "organisation_id": system.ids["school-a"], "pseudonymous": True, "label": label,
        "protected": True}
    mentor = municipal["people"][theirs]
    assert (mentor["full_name"], mentor["birth_date"]) == ("Чужой Виктор Павлович", None)

    for role in (Role.PARTICIPANT, Role.AUDITOR):
        refused = ask(system, {"token": token(system, role, "demo"), "person_ids": [mine]})
        assert refused == {"error": {"code": "FORBIDDEN", "status": 403,
                                     "message": "Недостаточно прав для получения ФИО участников"}}
    assert ask(system, {"token": "forged", "person_ids": [mine]})["error"]["code"] == "UNAUTHENTICATED"
    assert ask(system, {"token": token(system, Role.CURATOR, "demo/m1/school-a"),
                        "person_ids": ["not-a-uuid"]})["error"]["code"] == "INVALID_REQUEST"
    assert ask(system, b"\xff not json")["error"]["code"] == "INVALID_REQUEST"
