"""«Наставник года» on the documents service layer: a school nominates its mentor, the
municipality and then the region judge, the judge's award order and thanks letters name the
winners from the decisions, and the winners are open to everyone."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from docx import Document

from services.documents.application import DocumentsService
from services.documents.commands import NominationAwardsIn, NominationDecisionIn, NominationIn
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.events import public_payload
from shared.store import CommandContext
from tests.unit.documents.fakes import FakePeers, memory_service, person

SCHOOL, MUNICIPALITY, REGION = "demo/m1/school-a", "demo/m1", "demo"
ISSUER = {"organisation_name": "Управление образования", "place": "г. Озёрск",
          "signatory": {"position": "Начальник", "full_name": "Орлова Анна Петровна"}}
MENTOR, MENTEE = uuid4(), uuid4()
WHY = "Создала клуб «Старший друг»: 40 пятиклассников прошли адаптацию"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[DocumentsService]:
    school = uuid4()
    documents = memory_service(tmp_path, FakePeers(people={
        MENTOR: person("Кузнецова Мария Андреевна", school),
        MENTEE: person("Орлов Егор Ильич", school, "mentee")}))
    yield documents
    documents.close()


def as_(role: Role, scope: str) -> CommandContext:
    return CommandContext(Actor(user="tester", role=role, scope=OrgPath.parse(scope)))


async def nominate(service: DocumentsService, person_id: UUID = MENTOR) -> UUID:
    nomination = await service.nominate(as_(Role.CURATOR, SCHOOL), NominationIn(
        org=SCHOOL, mentor_id=person_id, school_year="2025-2026", justification=WHY))
    return UUID(nomination["id"])


def decide(service: DocumentsService, nomination: UUID, ctx: CommandContext, stage: str,
           decision: str) -> dict[str, object]:
    return service.decide_nomination(ctx, nomination, NominationDecisionIn.model_validate(
        {"stage": stage, "decision": decision}))


def awards(org: str) -> NominationAwardsIn:
    return NominationAwardsIn.model_validate({**ISSUER, "org": org, "school_year": "2025-2026"})


def docx_text(content: bytes) -> str:
    document = Document(io.BytesIO(content))
    return " ".join([p.text for p in document.paragraphs]
                    + [c.text for t in document.tables for r in t.rows for c in r.cells])


async def test_a_school_nominates_only_its_own_mentor_once_a_year(service: DocumentsService) -> None:
    with pytest.raises(DomainError) as refused:
        await service.nominate(as_(Role.MUNICIPAL, MUNICIPALITY), NominationIn(
            org=SCHOOL, mentor_id=MENTOR, school_year="2025-2026", justification=WHY))
    assert refused.value.status == 403
    for person_id in (MENTEE, uuid4()):  # not a mentor; not one the registry shows the curator
        with pytest.raises(DomainError) as refused:
            await nominate(service, person_id)
        assert refused.value.code == "PERSON_NOT_FOUND"
    nomination = await nominate(service)
    assert service.get_nomination(as_(Role.CURATOR, SCHOOL).actor, nomination)["status"] == "nominated"
    with pytest.raises(DomainError) as refused:
        await nominate(service)
    assert refused.value.code == "ALREADY_NOMINATED"


async def test_the_municipality_then_the_region_decide_and_the_justification_stays_home(
        service: DocumentsService) -> None:
    nomination = await nominate(service)
    municipal, regional = as_(Role.MUNICIPAL, MUNICIPALITY), as_(Role.REGIONAL, REGION)
    for ctx in (as_(Role.CURATOR, SCHOOL), as_(Role.AUDITOR, REGION)):
        with pytest.raises(DomainError) as refused:
            decide(service, nomination, ctx, "municipality", "winner")
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:  # the region's stage comes after the municipality's
        decide(service, nomination, regional, "region", "winner")
    assert refused.value.code == "NOMINATION_NOT_AT_STAGE"
    with pytest.raises(DomainError) as refused:  # the regional stage is not a municipality's
        decide(service, nomination, municipal, "region", "winner")
    assert refused.value.status == 403
    assert decide(service, nomination, municipal, "municipality", "shortlisted")["status"] == "shortlisted"
    assert decide(service, nomination, municipal, "municipality", "winner")["status"] == "municipal_winner"
    assert [w["id"] for w in service.winners()] == [str(nomination)]
    with pytest.raises(DomainError) as refused:  # decided for good at this stage
        decide(service, nomination, municipal, "municipality", "declined")
    assert refused.value.code == "NOMINATION_NOT_AT_STAGE"
    assert decide(service, nomination, regional, "region", "winner")["status"] == "winner"
    events = (service.events.mapper.to_domain_event(n) for n in service.events.notifications_after(0, 10))
    published = [public_payload(type(e).__name__, e.__dict__) for e in events]
    assert all(WHY not in str(p) for p in published), published


async def test_the_award_order_and_letters_name_the_stage_winners(service: DocumentsService) -> None:
    municipal = as_(Role.MUNICIPAL, MUNICIPALITY)
    with pytest.raises(DomainError) as refused:
        await service.issue_nomination_order(municipal, awards(MUNICIPALITY))
    assert refused.value.code == "NO_WINNERS"
    decide(service, await nominate(service), municipal, "municipality", "winner")
    with pytest.raises(DomainError) as refused:  # a school does not issue the contest's order
        await service.issue_nomination_order(as_(Role.CURATOR, SCHOOL), awards(SCHOOL))
    assert refused.value.code == "NOT_A_JUDGE"
    order = await service.issue_nomination_order(municipal, awards(MUNICIPALITY))
    assert order["kind"] == "award_order" and order["subject_ids"] == [str(MENTOR)]
    content, _ = await service.download(municipal.actor, UUID(order["id"]), "docx")
    text = docx_text(content)
    assert "Кузнецова Мария Андреевна" in text
    assert "победитель муниципального этапа конкурса «Наставник года»" in text
    letters = await service.issue_nomination_letters(municipal, awards(MUNICIPALITY))
    assert [letter["kind"] for letter in letters] == ["thanks_letter"]
    with pytest.raises(DomainError) as refused:  # no regional winner yet
        await service.issue_nomination_order(as_(Role.REGIONAL, REGION), awards(REGION))
    assert refused.value.code == "NO_WINNERS"
