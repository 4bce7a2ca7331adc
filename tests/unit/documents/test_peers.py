"""The NATS adapter of ``Peers``: the subjects, request bodies and timeouts the answering
services are asked with — the acting user as signed claims, never a token — and their sealed
replies opened and read back as the typed models."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest

from services.documents.peers import BusPeers
from shared import rpc, signing
from shared.auth import Actor, OrgPath, Role
from shared.contracts import DASHBOARD, NAMES, PAIRS, RPC_ROUTES
from shared.errors import DomainError

CURATOR = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/school-a"))


@dataclass
class Message:
    data: bytes


@dataclass
class FakeConnection:
    """Answers every request as ``shared.rpc.serve`` would with a handler returning ``reply``
    (the process's keyring: one key set for both sides), and keeps what was asked and by whom."""

    reply: dict[str, Any]
    is_connected: bool = True
    asked: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)

    async def request(self, subject: str, payload: bytes, timeout: float) -> Message:
        body = json.loads(payload)
        self.asked.append((subject, {k: v for k, v in body.items()
                                     if k not in ("actor", "actor_signature")}, timeout))

        def handler(actor: Actor, request: dict[str, Any]) -> dict[str, Any]:
            self.actors.append(actor)
            if "error" in self.reply:
                error = self.reply["error"]
                raise DomainError(error["code"], error["message"], error["status"])
            return self.reply

        return Message(rpc.answer(RPC_ROUTES[subject], handler, payload, signing.current()))


async def test_names_are_asked_once_per_person_for_the_user_and_come_sealed() -> None:
    person, organisation = uuid4(), uuid4()
    nc = FakeConnection({"people": {str(person): {
        "full_name": "Орлов Егор Ильич", "last_name": "Орлов", "first_name": "Егор",
        "middle_name": "Ильич", "birth_date": "2013-05-02", "guardian_name": None,
        "role": "mentee", "organisation_id": str(organisation)}}, "missing": []})
    reply = await BusPeers(nc).names(CURATOR, [person, person])  # type: ignore[arg-type]
    assert nc.asked == [(NAMES.subject, {"person_ids": [str(person)], "paired_mentor_ids": []}, 10.0)]
    assert nc.actors == [CURATOR]
    assert reply.people[str(person)].birth_date is not None
    assert reply.people[str(person)].organisation_id == organisation


async def test_pairs_and_dashboards_keep_their_subjects_bodies_and_timeouts() -> None:
    pair = uuid4()
    nc = FakeConnection({"pairs": {}, "missing": [str(pair)]})
    assert (await BusPeers(nc).pairs(CURATOR, [pair])).missing == [str(pair)]  # type: ignore[arg-type]
    board = FakeConnection({"dashboard": {"scope": "demo/m1", "units": []}})
    reply = await BusPeers(board).dashboard(CURATOR, "demo/m1")  # type: ignore[arg-type]
    assert reply.dashboard["scope"] == "demo/m1"
    assert nc.asked == [(PAIRS.subject, {"pair_ids": [str(pair)], "with_goals": False}, 10.0)]
    assert board.asked == [(DASHBOARD.subject, {"org": "demo/m1", "period": None}, 30.0)]


async def test_a_refusal_comes_back_as_the_same_error_and_no_bus_as_unavailable() -> None:
    nc = FakeConnection({"error": {"code": "FORBIDDEN", "message": "Нет прав", "status": 403}})
    with pytest.raises(DomainError) as refused:
        await BusPeers(nc).dashboard(CURATOR, "demo")  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    with pytest.raises(DomainError) as unavailable:
        await BusPeers(None).names(CURATOR, [uuid4()])
    assert (unavailable.value.code, unavailable.value.status) == ("REGISTRY_UNAVAILABLE", 503)


async def test_an_unsealed_answer_is_not_taken_for_one() -> None:
    """Only an error may come as plain JSON: an answer anyone could have sent is refused."""

    @dataclass
    class Impostor:
        is_connected: bool = True

        async def request(self, subject: str, payload: bytes, timeout: float) -> Message:
            return Message(json.dumps({"pairs": {}, "missing": []}).encode())

    with pytest.raises(DomainError) as refused:
        await BusPeers(Impostor()).pairs(CURATOR, [uuid4()])  # type: ignore[arg-type]
    assert refused.value.code == "PAIRING_UNAVAILABLE"
