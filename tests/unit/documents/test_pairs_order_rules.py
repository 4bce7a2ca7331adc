"""The rules an order's pairs are checked by, on pairing's answer (no I/O)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from services.documents.commands import PairsOrderIn
from services.documents.pairs import order_recipe, same_form
from services.documents.peers import BusPeers
from shared.auth import OrgPath, system_actor
from shared.contracts import PairFound
from shared.errors import DomainError

SCHOOL = OrgPath.parse("demo/m1/school-a")
MENTOR, MENTEES = str(uuid4()), sorted(str(uuid4()) for _ in range(2))
PAIR = str(uuid4())
FOUND = PairFound(status="active", organisation_id=uuid4(), path="demo/m1/school-a",
                  form="student-teacher", form_title="Ученик – учитель (обратное наставничество)",
                  mentor_id=MENTOR, mentee_ids=MENTEES)


def order(**pair: Any) -> PairsOrderIn:
    return PairsOrderIn.model_validate({
        "org": str(SCHOOL), "organisation_name": "Школа", "school_year": "2025-2026",
        "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
        "pairs": [{"pair_id": PAIR, **pair}]})


@pytest.mark.parametrize(("text", "same"), [
    ("student-teacher", True), ("Ученик – учитель (обратное наставничество)", True),
    ("ученик-учитель", True), ("УЧЕНИК — УЧИТЕЛЬ", True), ("ученик – ученик", False),
    ("ученик", False), ("teacher-student", False),
])
def test_a_form_is_named_by_its_code_its_title_or_its_short_title(text: str, same: bool) -> None:
    assert same_form(text, FOUND.form, FOUND.form_title) is same


def test_the_recipe_holds_the_pairing_composition_in_the_request_wording() -> None:
    by_id = order_recipe(order(), SCHOOL, {PAIR: FOUND}, [])
    printed = by_id.pairs[0]
    assert (str(printed.pair_id), str(printed.mentor_id), printed.form) == (
        PAIR, MENTOR, "Ученик – учитель (обратное наставничество)")
    assert [str(m) for m in printed.mentee_ids] == MENTEES
    worded = order_recipe(order(mentee_ids=MENTEES[::-1], form="ученик – учитель"), SCHOOL,
                          {PAIR: FOUND}, []).pairs[0]
    assert ([str(m) for m in worded.mentee_ids], worded.form) == (MENTEES[::-1], "ученик – учитель")
    by_code = order_recipe(order(form="student-teacher"), SCHOOL, {PAIR: FOUND}, []).pairs[0]
    assert by_code.form == FOUND.form_title  # a code is never printed


@pytest.mark.parametrize(("found", "missing", "code", "status"), [
    ({}, [PAIR], "PAIR_NOT_FOUND", 404),
    ({PAIR: FOUND.model_copy(update={"path": "demo/m1/school-b"})}, [],
     "PAIR_OF_ANOTHER_ORGANISATION", 422),
    ({PAIR: FOUND.model_copy(update={"status": "completed"})}, [], "PAIR_NOT_ACTIVE", 409),
    ({PAIR: FOUND.model_copy(update={"mentor_id": uuid4()})}, [], "PAIR_MISMATCH", 409),
])
def test_refusals(found: dict[str, PairFound], missing: list[str], code: str, status: int) -> None:
    with pytest.raises(DomainError) as refused:
        order_recipe(order(mentor_id=MENTOR), SCHOOL, found, missing)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert refused.value.details[0]["pair_id"] == PAIR


def test_a_municipal_order_may_list_its_schools_pairs() -> None:
    recipe = order_recipe(order(), OrgPath.parse("demo/m1"), {PAIR: FOUND}, [])
    assert str(recipe.pairs[0].pair_id) == PAIR


def test_without_the_bus_the_order_waits_for_pairing() -> None:
    with pytest.raises(DomainError) as unavailable:
        asyncio.run(BusPeers(None).pairs(system_actor("demo"), [uuid4()]))
    assert (unavailable.value.code, unavailable.value.status) == ("PAIRING_UNAVAILABLE", 503)
