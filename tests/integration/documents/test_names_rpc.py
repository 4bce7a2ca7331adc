"""The registry's names responder, asked directly over NATS request/reply, as the documents
service asks: the user in claims it signs, the reply sealed to it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from shared import bus, claims, sealed, signing
from shared.auth import Actor, OrgPath, Role
from shared.contracts import NAMES
from tests.integration.documents.conftest import System, register


def ask(system: System, request: Any) -> tuple[dict[str, Any], bytes]:
    """The reply (opened when sealed) and the bytes that travelled."""
    async def run() -> tuple[dict[str, Any], bytes]:
        # As the documents service asks: only services may receive these replies.
        nc = await bus.connect(system.settings.nats_url, "documents", system.settings, service="documents")
        try:
            data = request if isinstance(request, bytes) else json.dumps(request).encode()
            raw = (await nc.request(NAMES.subject, data, timeout=10)).data
        finally:
            await nc.close()
        if not sealed.is_sealed(raw):
            return json.loads(raw), raw
        jti = request["actor"]["jti"]
        opened = sealed.open_sealed(signing.current(), "registry", "documents", raw,
                                    sealed.context_of(NAMES.subject, jti))
        return json.loads(opened), raw

    return asyncio.run(run())


def asking(role: Role, scope: str, person_ids: list[str], **kwargs: Any) -> dict[str, Any]:
    actor = Actor(user="u", role=role, scope=OrgPath.parse(scope))
    return {**claims.mint(signing.current(), "documents", "registry", actor, **kwargs),
            "person_ids": person_ids}


def test_names_only_for_issuers_within_their_scope(system: System) -> None:
    mine = register(system, "mentee", "school-a", "Орлов", "Егор", "Ильич", "2013-05-02",
                    guardian_name="Орлова Мария Ивановна")
    theirs = register(system, "mentor", "school-b", "Чужой", "Виктор", "Павлович", "1980-01-01")

    reply, raw = ask(system, asking(Role.CURATOR, "demo/m1/school-a", [mine, theirs]))
    assert reply["missing"] == [theirs]
    label = reply["people"][mine]["label"]
    assert label.startswith("Наставляемый №")
    assert reply["people"][mine] == {
        "full_name": "Орлов Егор Ильич", "last_name": "Орлов", "first_name": "Егор",
        "middle_name": "Ильич", "birth_date": "2013-05-02", "guardian_name": "Орлова Мария Ивановна",
        "role": "mentee", "organisation_id": system.ids["school-a"], "pseudonymous": False,
        "label": label, "protected": True}
    assert "Орлов".encode() not in raw and b"2013-05-02" not in raw  # encrypted on the wire
    # Above the school: the child by label (152-ФЗ, ст. 5), the adult mentor by name only.
    municipal, _ = ask(system, asking(Role.MUNICIPAL, "demo/m1", [mine, theirs]))
    assert sorted(municipal["people"]) == sorted([mine, theirs]) and municipal["missing"] == []
    assert municipal["people"][mine] == {
        "full_name": label, "last_name": None, "first_name": None, "middle_name": None,
        "birth_date": None, "guardian_name": None, "role": "mentee",
        "organisation_id": system.ids["school-a"], "pseudonymous": True, "label": label,
        "protected": True}
    mentor = municipal["people"][theirs]
    assert (mentor["full_name"], mentor["birth_date"]) == ("Чужой Виктор Павлович", None)

    for role in (Role.PARTICIPANT, Role.AUDITOR):
        refused, _ = ask(system, asking(role, "demo", [mine]))
        assert refused == {"error": {"code": "FORBIDDEN", "status": 403,
                                     "message": "Недостаточно прав для получения ФИО участников"}}
    forged = asking(Role.CURATOR, "demo/m1/school-a", [mine])
    forged["actor"] = {**forged["actor"], "scope": "demo"}
    assert ask(system, forged)[0]["error"]["code"] == "RPC_CLAIMS_FORGED"
    assert ask(system, {"token": "eyJhbGciOiJIUzI1NiJ9", "person_ids": [mine]})[0]["error"] == {
        "code": "RPC_CLAIMS_MISSING", "status": 403,
        "message": "Запрос между сервисами без подписанного пользователя отклонён"}
    assert ask(system, asking(Role.CURATOR, "demo/m1/school-a", ["not-a-uuid"]))[0][
        "error"]["code"] == "INVALID_REQUEST"
    assert ask(system, b"\xff not json")[0]["error"]["code"] == "INVALID_REQUEST"
