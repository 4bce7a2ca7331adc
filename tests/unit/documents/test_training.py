"""«Школа наставников» on the documents service layer: the territory publishes, the mentor marks
a material completed, the curator of the mentor's school confirms — and only then does the
mentor count as trained in monitoring's fold."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from services.documents.application import DocumentsService
from services.documents.commands import TrainingMaterialIn
from services.monitoring.dashboards import DashboardFold
from shared.auth import Role
from shared.errors import DomainError
from tests.unit.documents.fakes import MENTEE, MENTOR, as_

SCHOOL, OTHER_SCHOOL, MUNICIPALITY = "demo/m1/school-a", "demo/m2/school-c", "demo/m1"


def material(org: str = MUNICIPALITY) -> TrainingMaterialIn:
    return TrainingMaterialIn(org=org, form="Ученик – ученик", title="Как провести первую встречу",
                              description="Видеолекция и памятка для наставника-старшеклассника",
                              link="https://example.org/lecture")


def test_a_territory_publishes_for_its_own_mentors(documents: DocumentsService) -> None:
    for ctx, org in ((as_(Role.CURATOR, SCHOOL), SCHOOL), (as_(Role.MUNICIPAL, "demo/m2"), MUNICIPALITY)):
        with pytest.raises(DomainError) as refused:
            documents.publish_material(ctx, material(org))
        assert refused.value.status == 403
    published = documents.publish_material(as_(Role.MUNICIPAL, MUNICIPALITY), material())
    mentor = as_(Role.PARTICIPANT, SCHOOL, str(MENTOR)).actor
    assert [m["id"] for m in documents.materials(mentor)] == [published["id"]]
    assert documents.materials(as_(Role.PARTICIPANT, OTHER_SCHOOL, str(uuid4())).actor) == []
    assert documents.materials(as_(Role.REGIONAL, "demo").actor)[0]["title"] == "Как провести первую встречу"


async def test_a_mentor_marks_and_the_curator_confirms_once(documents: DocumentsService) -> None:
    material_id = UUID(documents.publish_material(as_(Role.MUNICIPAL, MUNICIPALITY), material())["id"])
    with pytest.raises(DomainError) as refused:  # nobody marks for the mentor
        documents.complete_training(as_(Role.CURATOR, SCHOOL), material_id)
    assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:  # another territory's mentor does not see it
        documents.complete_training(as_(Role.PARTICIPANT, OTHER_SCHOOL, str(uuid4())), material_id)
    assert refused.value.code == "MATERIAL_NOT_FOUND"
    mentor = as_(Role.PARTICIPANT, SCHOOL, str(MENTOR))
    marked = documents.complete_training(mentor, material_id)
    assert documents.complete_training(mentor, material_id) == marked and not marked["confirmed"]
    completion = UUID(marked["id"])
    for ctx in (as_(Role.MUNICIPAL, MUNICIPALITY), as_(Role.AUDITOR, "demo")):
        with pytest.raises(DomainError) as refused:
            await documents.confirm_training(ctx, completion)
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:
        await documents.confirm_training(as_(Role.CURATOR, OTHER_SCHOOL), completion)
    assert refused.value.code == "COMPLETION_NOT_FOUND"
    confirmed = await documents.confirm_training(as_(Role.CURATOR, SCHOOL), completion)
    assert confirmed["confirmed"] is True
    assert [c["mentor_id"] for c in documents.completions(mentor.actor)] == [str(MENTOR)]
    with pytest.raises(DomainError) as refused:
        await documents.confirm_training(as_(Role.CURATOR, SCHOOL), completion)
    assert refused.value.code == "TRAINING_ALREADY_CONFIRMED"


async def test_a_mentee_is_never_confirmed_as_a_trained_mentor(documents: DocumentsService) -> None:
    material_id = UUID(documents.publish_material(as_(Role.MUNICIPAL, MUNICIPALITY), material())["id"])
    marked = documents.complete_training(as_(Role.PARTICIPANT, SCHOOL, str(MENTEE)), material_id)
    with pytest.raises(DomainError) as refused:
        await documents.confirm_training(as_(Role.CURATOR, SCHOOL), UUID(marked["id"]))
    assert refused.value.code == "NOT_A_MENTOR"


def test_the_fold_counts_a_mentor_trained_once_at_the_mentors_school() -> None:
    fold = DashboardFold()
    org = {"region": "demo", "municipality": "m1", "organisation": "school-a"}
    for material_id in (uuid4(), uuid4()):
        fold.apply({"type": "TrainingConfirmed", "org": org, "schema_version": 1,
                    "payload": {"material_id": str(material_id), "mentor_id": str(MENTOR)}})
    counts = fold.take_deltas()
    trained = {key: value for key, value in counts.items() if key[3] == "mentors.trained"}
    assert trained and set(trained.values()) == {1}, trained
