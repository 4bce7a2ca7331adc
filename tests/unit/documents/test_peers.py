"""The NATS adapter of ``Peers``: the subjects, request bodies and timeouts the answering
services have always been asked with, and their replies read back as the typed models."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest

from services.documents.peers import BusPeers
from shared.contracts import DASHBOARD, NAMES, PAIRS
from shared.errors import DomainError


@dataclass
class Message:
    data: bytes


@dataclass
class FakeConnection:
    """Answers every request with ``reply`` and keeps what was asked."""

    reply: dict[str, Any]
    is_connected: bool = True
    asked: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    async def request(self, subject: str, payload: bytes, timeout: float) -> Message:
        self.asked.append((subject, json.loads(payload), timeout))
        return Message(json.dumps(self.reply).encode())


async def test_names_are_asked_once_per_person_with_the_token() -> None:
    person, organisation = uuid4(), uuid4()
    nc = FakeConnection({"people": {str(person): {
        "full_name": "Орлов Егор Ильич", "last_name": "Орлов", "first_name": "Егор",
        "middle_name": "Ильич", "birth_date": "2013-05-02", "guardian_name": None,
        "role": "mentee", "organisation_id": str(organisation)}}, "missing": []})
    reply = await BusPeers(nc).names("t", [person, person])  # type: ignore[arg-type]
    assert nc.asked == [(NAMES.subject, {"token": "t", "person_ids": [str(person)]}, 10.0)]
    assert reply.people[str(person)].birth_date is not None
    assert reply.people[str(person)].organisation_id == organisation


async def test_pairs_and_dashboards_keep_their_subjects_bodies_and_timeouts() -> None:
    pair = uuid4()
    nc = FakeConnection({"pairs": {}, "missing": [str(pair)]})
    assert (await BusPeers(nc).pairs("t", [pair])).missing == [str(pair)]  # type: ignore[arg-type]
    board = FakeConnection({"dashboard": {"scope": "demo/m1", "units": []}})
    reply = await BusPeers(board).dashboard("t", "demo/m1")  # type: ignore[arg-type]
    assert reply.dashboard["scope"] == "demo/m1"
    assert nc.asked == [(PAIRS.subject, {"token": "t", "pair_ids": [str(pair)]}, 10.0)]
    assert board.asked == [(DASHBOARD.subject, {"token": "t", "org": "demo/m1", "period": None}, 30.0)]


async def test_a_refusal_comes_back_as_the_same_error_and_no_bus_as_unavailable() -> None:
    nc = FakeConnection({"error": {"code": "FORBIDDEN", "message": "Нет прав", "status": 403}})
    with pytest.raises(DomainError) as refused:
        await BusPeers(nc).dashboard("t", "demo")  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    with pytest.raises(DomainError) as unavailable:
        await BusPeers(None).names("t", [uuid4()])
    assert (unavailable.value.code, unavailable.value.status) == ("REGISTRY_UNAVAILABLE", 503)
