"""The development plan on the service layer (in-memory store, fake peers): pairing is asked for
the pair with its goals for the acting user; the recipe keeps ids and the goals as they stood;
another organisation's pair or one pairing does not show is refused before any name is asked;
the members' withdrawal finds the plan to erase."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from services.documents import views
from services.documents.application import DocumentsService
from services.documents.commands import DevelopmentPlanIn
from services.documents.erasure import naming
from shared.auth import Actor, OrgPath, Role
from shared.contracts import PairFound, PairGoal
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.documents.fakes import FakePeers, memory_service, person

SCHOOL_A, SCHOOL_B = "demo/m1/school-a", "demo/m1/school-b"
SCHOOL_ID = uuid4()
MENTOR, MENTEE = uuid4(), uuid4()
CURATOR = CommandContext(Actor(user="tester", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)))
ISSUER = {"organisation_name": "МБОУ «Средняя школа № 1»", "place": "г. Озёрск",
          "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}


@pytest.fixture
def peers() -> FakePeers:
    return FakePeers(people={MENTOR: person("Кузнецов Пётр Андреевич", SCHOOL_ID),
                             MENTEE: person("Орлов Егор Ильич", SCHOOL_ID, "mentee")})


@pytest.fixture
def service(tmp_path: Path, peers: FakePeers) -> Iterator[DocumentsService]:
    documents = memory_service(tmp_path, peers)
    yield documents
    documents.close()


def formed(path: str = SCHOOL_A) -> PairFound:
    return PairFound(status="active", organisation_id=SCHOOL_ID, path=path, form="teacher-student",
                     form_title="Учитель – ученик", mentor_id=MENTOR, mentee_ids=[MENTEE],
                     formed_on=date(2025, 9, 20),
                     goals=[PairGoal(title="Проект к конкурсу", due=date(2026, 3, 1),
                                     status="in_progress")])


def plan(pair_id: object, org: str = SCHOOL_A) -> DevelopmentPlanIn:
    return DevelopmentPlanIn.model_validate({**ISSUER, "org": org, "pair_id": str(pair_id),
                                             "school_year": "2025-2026"})


async def test_the_plan_keeps_ids_and_the_goals_and_names_only_the_members(
        service: DocumentsService, peers: FakePeers) -> None:
    pair = uuid4()
    peers.pairs_formed[pair] = formed()
    issued = await service.issue(CURATOR, "development_plan", plan(pair))

    assert (issued["kind"], issued["number"]) == ("development_plan", "1-ипр")
    assert issued["subject_ids"] == [str(MENTOR), str(MENTEE)]
    assert [a[0] for a in peers.asked] == ["pairs", "names"]
    with service.engine.connect() as conn:
        recipe = conn.execute(sa.select(views.recipes.c.body)).scalar_one()
        # Either member's withdrawal finds the plan to erase (``erasure.naming``).
        erased = [[str(i) for i in naming(conn, member)] for member in (MENTOR, MENTEE)]
    assert erased == [[issued["id"]], [issued["id"]]]
    assert "Орлов" not in str(recipe) and recipe["goals"][0]["title"] == "Проект к конкурсу"
    assert recipe["form"] == "Учитель – ученик" and recipe["mentee_ids"] == [str(MENTEE)]


async def test_a_pair_not_shown_or_of_another_school_is_refused_before_any_name(
        service: DocumentsService, peers: FakePeers) -> None:
    unknown, foreign = uuid4(), uuid4()
    peers.pairs_formed[foreign] = formed(path=SCHOOL_B)
    for pair, code, status in ((unknown, "PAIR_NOT_FOUND", 404),
                               (foreign, "PAIR_OF_ANOTHER_ORGANISATION", 422)):
        with pytest.raises(DomainError) as refused:
            await service.issue(CURATOR, "development_plan", plan(pair))
        assert (refused.value.code, refused.value.status) == (code, status)
    assert all(a[0] == "pairs" for a in peers.asked)  # no name asked for a refused plan
    # A curator naming another school is refused before pairing is asked at all.
    peers.asked.clear()
    with pytest.raises(DomainError):
        await service.issue(CURATOR, "development_plan", plan(foreign, SCHOOL_B))
    assert peers.asked == []
