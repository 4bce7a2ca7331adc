"""«Наставник года» and «Школа наставников» through the HTTP API with the registry behind it:
the award order of the municipal stage names the winner the registry knows; the events on the
bus carry ids, never the justification; a confirmed training is the curator's to give."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from typing import Any
from uuid import UUID

import pytest
from docx import Document

from services.documents.application import DocumentsService
from services.documents.commands import NominationIn
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, System, register
from tests.unit.documents.fakes import FakePeers, person

WHY = "Создала клуб «Старший друг»: сорок пятиклассников прошли адаптацию"


def test_a_nomination_decided_by_the_municipality_makes_its_award_order(system: System) -> None:
    mentor = register(system, "mentor", "school-a", "Кузнецова", "Мария", "Андреевна", "1980-03-04")
    nominated = system.post("/documents/nominations", {
        "org": SCHOOL_A, "mentor_id": mentor, "school_year": "2023-2024", "justification": WHY})
    assert nominated.status_code == 201, nominated.text
    nomination = nominated.json()["id"]
    decided = system.post(f"/documents/nominations/{nomination}/decision",
                          {"stage": "municipality", "decision": "winner"}, Role.MUNICIPAL, "demo/m1")
    assert decided.status_code == 200 and decided.json()["status"] == "municipal_winner"
    order = system.post("/documents/nominations/award-order", {
        **ISSUER, "org": "demo/m1", "school_year": "2023-2024"}, Role.MUNICIPAL, "demo/m1")
    assert order.status_code == 201, order.text
    docx = system.client.get(f"/documents/{order.json()['id']}/docx",
                             headers=system.headers(Role.MUNICIPAL, "demo/m1"))
    document = Document(io.BytesIO(docx.content))
    text = " ".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    assert "Кузнецова Мария Андреевна" in text and "«Наставник года»" in text
    winners = system.get("/documents/nominations/winners", Role.CURATOR, "demo/m2/school-c").json()
    assert [w["mentor_id"] for w in winners] == [mentor]
    on_bus = [e for e in system.published() if e.type.startswith("Nomination")]
    assert [e.type for e in on_bus] == ["NominationSubmitted", "NominationDecided"]
    assert all(WHY not in e.model_dump_json() for e in on_bus)


def test_a_mentors_training_is_confirmed_by_the_curator_of_the_school(system: System) -> None:
    mentor = register(system, "mentor", "school-a", "Орлова", "Анна", "Петровна", "1985-05-06")
    material = system.post("/documents/training/materials", {
        "org": "demo/m1", "form": "Учитель – ученик", "title": "Первая встреча",
        "description": "Памятка наставнику о первой встрече"}, Role.MUNICIPAL, "demo/m1").json()
    marked = system.client.post(f"/documents/training/materials/{material['id']}/completed",
                                headers=system.headers(Role.PARTICIPANT, SCHOOL_A, mentor))
    assert marked.status_code == 200 and marked.json()["confirmed"] is False
    completion = marked.json()["id"]
    refused = system.post(f"/documents/training/completions/{completion}/confirm", {},
                          Role.MUNICIPAL, "demo/m1")
    assert refused.status_code == 403
    confirmed = system.post(f"/documents/training/completions/{completion}/confirm", {})
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    on_bus = [e.type for e in system.published() if e.type.startswith("Training")]
    assert on_bus == ["TrainingMaterialPublished", "TrainingCompleted", "TrainingConfirmed"]


def test_two_replicas_nominating_one_mentor_at_once_make_one(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica of the documents service on the same stores, nominating the same mentor while
    this one has checked for an earlier nomination and not yet saved its own."""
    mentor = register(system, "mentor", "school-a", "Кузнецова", "Мария", "Андреевна", "1980-03-04")
    school = UUID(system.ids["school-a"])
    replica = DocumentsService(system.settings, peers=FakePeers(people={
        UUID(mentor): person("Кузнецова Мария Андреевна", school)}))
    service = system.documents.service
    first_checked, release, second_checked = threading.Event(), threading.Event(), threading.Event()
    check = service._nominated

    def checked_then_held(*args: Any) -> bool:
        found = check(*args)
        first_checked.set()  # found none and about to save: held there
        assert release.wait(20)
        return found

    def checked(*args: Any) -> bool:
        second_checked.set()
        return replica_check(*args)

    replica_check = replica._nominated
    replica_exclusive = replica.exclusive

    def asking_for_the_lock(*scopes: str) -> Any:
        second_checked.set()  # about to wait for the first's lock (with the rule kept under it)
        return replica_exclusive(*scopes)

    monkeypatch.setattr(service, "_nominated", checked_then_held)
    monkeypatch.setattr(replica, "_nominated", checked)
    monkeypatch.setattr(replica, "exclusive", asking_for_the_lock)
    answers: dict[str, Any] = {}
    offer = {"org": SCHOOL_A, "mentor_id": mentor, "school_year": "2023-2024", "justification": WHY}

    def on_replica() -> None:
        ctx = CommandContext(Actor(user="tester", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)))
        try:
            answers["second"] = asyncio.run(replica.nominate(ctx, NominationIn.model_validate(offer)))
        except DomainError as exc:
            answers["second"] = exc

    first = threading.Thread(target=lambda: answers.update(
        first=system.post("/documents/nominations", offer)))
    second = threading.Thread(target=on_replica)
    try:
        first.start()
        assert first_checked.wait(20)
        second.start()
        # The replica has reached the rule (its lock or, without one, its check) before the
        # first may save: without the lock it finds no nomination either.
        assert second_checked.wait(20)
        release.set()
        first.join(30)
        second.join(30)
    finally:
        replica.close()

    assert answers["first"].status_code == 201, answers["first"].text
    refused = answers["second"]
    assert isinstance(refused, DomainError), refused
    assert (refused.status, refused.code) == (409, "ALREADY_NOMINATED")
    assert re.search("[а-яА-Я]", refused.message)
    listed = system.get("/documents/nominations", school_year="2023-2024").json()
    assert [n["id"] for n in listed] == [answers["first"].json()["id"]]
