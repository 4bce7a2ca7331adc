"""«Наставник года» on the documents service layer: a school nominates its mentor, the
municipality and then the region judge, the judge's award order and thanks letters name the
winners from the decisions, and the winners are open to everyone."""

from __future__ import annotations

import io
from uuid import UUID, uuid4

import pytest
from docx import Document

from services.documents.application import DocumentsService
from services.documents.commands import NominationAwardsIn, NominationDecisionIn, NominationIn
from shared.auth import Role
from shared.errors import DomainError
from shared.events import public_payload
from shared.store import CommandContext
from tests.unit.documents.fakes import MENTEE, MENTOR, as_

SCHOOL, MUNICIPALITY, REGION = "demo/m1/school-a", "demo/m1", "demo"
ISSUER = {"organisation_name": "Управление образования", "place": "г. Озёрск",
          "signatory": {"position": "Начальник", "full_name": "Орлова Анна Петровна"}}
WHY = "Создала клуб «Старший друг»: 40 пятиклассников прошли адаптацию"


async def nominate(documents: DocumentsService, person_id: UUID = MENTOR) -> UUID:
    nomination = await documents.nominate(as_(Role.CURATOR, SCHOOL), NominationIn(
        org=SCHOOL, mentor_id=person_id, school_year="2025-2026", justification=WHY))
    return UUID(nomination["id"])


def decide(documents: DocumentsService, nomination: UUID, ctx: CommandContext, stage: str,
           decision: str) -> dict[str, object]:
    return documents.decide_nomination(ctx, nomination, NominationDecisionIn.model_validate(
        {"stage": stage, "decision": decision}))


def awards(org: str) -> NominationAwardsIn:
    return NominationAwardsIn.model_validate({**ISSUER, "org": org, "school_year": "2025-2026"})


def docx_text(content: bytes) -> str:
    document = Document(io.BytesIO(content))
    return " ".join([p.text for p in document.paragraphs]
                    + [c.text for t in document.tables for r in t.rows for c in r.cells])


async def test_a_school_nominates_only_its_own_mentor_once_a_year(documents: DocumentsService) -> None:
    with pytest.raises(DomainError) as refused:
        await documents.nominate(as_(Role.MUNICIPAL, MUNICIPALITY), NominationIn(
            org=SCHOOL, mentor_id=MENTOR, school_year="2025-2026", justification=WHY))
    assert refused.value.status == 403
    for person_id in (MENTEE, uuid4()):  # not a mentor; not one the registry shows the curator
        with pytest.raises(DomainError) as refused:
            await nominate(documents, person_id)
        assert refused.value.code == "PERSON_NOT_FOUND"
    nomination = await nominate(documents)
    assert documents.get_nomination(as_(Role.CURATOR, SCHOOL).actor, nomination)["status"] == "nominated"
    with pytest.raises(DomainError) as refused:
        await nominate(documents)
    assert refused.value.code == "ALREADY_NOMINATED"


async def test_the_municipality_then_the_region_decide_and_the_justification_stays_home(
        documents: DocumentsService) -> None:
    nomination = await nominate(documents)
    municipal, regional = as_(Role.MUNICIPAL, MUNICIPALITY), as_(Role.REGIONAL, REGION)
    for ctx in (as_(Role.CURATOR, SCHOOL), as_(Role.AUDITOR, REGION)):
        with pytest.raises(DomainError) as refused:
            decide(documents, nomination, ctx, "municipality", "winner")
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:  # the region's stage comes after the municipality's
        decide(documents, nomination, regional, "region", "winner")
    assert refused.value.code == "NOMINATION_NOT_AT_STAGE"
    with pytest.raises(DomainError) as refused:  # the regional stage is not a municipality's
        decide(documents, nomination, municipal, "region", "winner")
    assert refused.value.status == 403
    assert decide(documents, nomination, municipal, "municipality", "shortlisted")["status"] == "shortlisted"
    assert decide(documents, nomination, municipal, "municipality", "winner")["status"] == "municipal_winner"
    assert [w["id"] for w in documents.winners()] == [str(nomination)]
    with pytest.raises(DomainError) as refused:  # decided for good at this stage
        decide(documents, nomination, municipal, "municipality", "declined")
    assert refused.value.code == "NOMINATION_NOT_AT_STAGE"
    assert decide(documents, nomination, regional, "region", "winner")["status"] == "winner"
    events = (documents.events.mapper.to_domain_event(n) for n in documents.events.notifications_after(0, 10))
    published = [public_payload(type(e).__name__, e.__dict__) for e in events]
    assert all(WHY not in str(p) for p in published), published


async def test_the_award_order_and_letters_name_the_stage_winners(documents: DocumentsService) -> None:
    municipal = as_(Role.MUNICIPAL, MUNICIPALITY)
    with pytest.raises(DomainError) as refused:
        await documents.issue_nomination_order(municipal, awards(MUNICIPALITY))
    assert refused.value.code == "NO_WINNERS"
    decide(documents, await nominate(documents), municipal, "municipality", "winner")
    with pytest.raises(DomainError) as refused:  # a school does not issue the contest's order
        await documents.issue_nomination_order(as_(Role.CURATOR, SCHOOL), awards(SCHOOL))
    assert refused.value.code == "NOT_A_JUDGE"
    order = await documents.issue_nomination_order(municipal, awards(MUNICIPALITY))
    assert order["kind"] == "award_order" and order["subject_ids"] == [str(MENTOR)]
    content, _ = await documents.download(municipal.actor, UUID(order["id"]), "docx")
    text = docx_text(content)
    assert "Кузнецова Мария Андреевна" in text
    assert "победитель муниципального этапа конкурса «Наставник года»" in text
    letters = await documents.issue_nomination_letters(municipal, awards(MUNICIPALITY))
    assert [letter["kind"] for letter in letters] == ["thanks_letter"]
    with pytest.raises(DomainError) as refused:  # no regional winner yet
        await documents.issue_nomination_order(as_(Role.REGIONAL, REGION), awards(REGION))
    assert refused.value.code == "NO_WINNERS"
