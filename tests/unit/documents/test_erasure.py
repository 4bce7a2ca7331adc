"""Withdrawn consent erases every kept form of a document naming the person (its recipe, with
the issuer's wording), and no such recipe is kept afterwards: the service layer on an in-memory
store and fake peers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from services.documents import views
from services.documents.application import DocumentsService
from services.documents.commands import ThanksLetterIn
from services.documents.erasure import ConsentWithdrawnInbox, Erasure
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.documents.fakes import FakePeers, memory_service, person

SCHOOL_A = "demo/m1/school-a"
SCHOOL_ID = uuid4()
GONE, STAYS = uuid4(), uuid4()
ISSUER = {"organisation_name": "МБОУ «Средняя школа № 1»", "place": "г. Озёрск",
          "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}
CURATOR = CommandContext(Actor(user="tester", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[DocumentsService]:
    peers = FakePeers(people={GONE: person("Зильберштейн Евлампия Аполлинариевна", SCHOOL_ID, "mentee"),
                              STAYS: person("Курочкина Нина Павловна", SCHOOL_ID)})
    documents = memory_service(tmp_path, peers)
    yield documents
    documents.close()


def letter(person_id: UUID, text: str) -> ThanksLetterIn:
    return ThanksLetterIn.model_validate({**ISSUER, "org": SCHOOL_A, "person_id": str(person_id),
                                          "text": text})


def withdrawal(person_id: UUID) -> Envelope:
    return Envelope(
        event_id=uuid4(), type="ConsentWithdrawn", schema_version=2, occurred_at=datetime.now(UTC),
        org=OrgPath.parse(SCHOOL_A), actor=Actor(user="tester", role=Role.CURATOR,
                                                 scope=OrgPath.parse(SCHOOL_A)),
        correlation_id=uuid4(), source="registry", source_position=9, aggregate_id=person_id,
        aggregate_version=3, payload={})


def recipe_ids(service: DocumentsService) -> set[str]:
    with service.engine.connect() as conn:
        return {str(i) for i in conn.execute(sa.select(views.recipes.c.document_id)).scalars()}


async def test_a_withdrawal_erases_the_recipes_naming_the_person_only(
        service: DocumentsService) -> None:
    gone = await service.issue(CURATOR, "thanks_letter",
                               letter(GONE, "Благодарим Евлампию за гномон во дворе школы."))
    stays = await service.issue(CURATOR, "thanks_letter",
                                letter(STAYS, "Благодарим за работу наставником в этом году."))
    assert recipe_ids(service) == {gone["id"], stays["id"]}
    erasure = Erasure(service.engine)
    notice = withdrawal(GONE)
    with service.engine.begin() as conn:
        ConsentWithdrawnInbox().apply(conn, [notice, notice])  # a redelivery keeps one notice
    assert not erasure.settled()
    assert erasure.process() == 1
    assert erasure.process() == 0  # worked off once
    assert erasure.settled()
    assert recipe_ids(service) == {stays["id"]}
    # The registration stays; the file can no longer be rendered from anything.
    assert service.get_document(CURATOR.actor, UUID(gone["id"]))["number"] == gone["number"]
    with pytest.raises(DomainError) as missing:
        service.document_file(CURATOR.actor, UUID(gone["id"]), "docx")
    assert missing.value.code == "DOCUMENT_FILE_NOT_FOUND"


async def test_no_recipe_naming_a_withdrawn_person_is_kept(service: DocumentsService) -> None:
    with service.engine.begin() as conn:
        ConsentWithdrawnInbox().apply(conn, [withdrawal(GONE)])
    # The registry still named her to this issuer (its answer crossed the withdrawal).
    with pytest.raises(DomainError) as refused:
        await service.issue(CURATOR, "thanks_letter",
                            letter(GONE, "Благодарим Евлампию за гномон во дворе школы."))
    assert (refused.value.code, refused.value.status) == ("PERSON_NOT_FOUND", 404)
    assert recipe_ids(service) == set()
    with service.engine.connect() as conn:  # nor its number claim
        assert conn.execute(sa.select(sa.func.count()).select_from(views.number_claims)).scalar() == 0
