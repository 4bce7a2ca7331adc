"""The order «Об утверждении наставнических пар/групп» approves only pairs the pairing service
formed, as it formed them: the documents service asks pairing over NATS for the caller (signed claims),
and an unknown, foreign, closed or misdescribed pair refuses the whole order before any name is
asked of the registry or any number is taken."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from services.documents import views
from shared.auth import Role
from tests.integration.documents.conftest import (
    ISSUER,
    SCHOOL_A,
    SCHOOL_B,
    System,
    form_pair,
    programme,
    register,
)
from tests.integration.documents.reader import read_documents
from tests.integration.documents.test_generation_api import paired, pairs_body, people


def order(*pairs: dict[str, Any], org: str = SCHOOL_A) -> dict[str, Any]:
    return {**ISSUER, "org": org, "school_year": "2023-2024", "pairs": list(pairs)}


def issued_as(system: System, tmp_path: Path, url: str, body: dict[str, Any],
              registered: tuple[str, str]) -> str:
    """Issue an order; it is registered under ``registered`` (number, date); its printed text."""
    issued = system.post(url, body)
    assert issued.status_code == 201, issued.text
    document = issued.json()
    assert (document["number"], document["date"]) == registered
    docx = system.get(document["docx_url"])
    assert docx.status_code == 200, docx.text
    return read_documents({"order": docx.content}, tmp_path / "docs", tmp_path / "profile")["order"]


def test_an_order_for_people_never_paired_is_refused_and_nothing_is_issued(system: System) -> None:
    ids = people(system)  # registered, never paired
    stored, registry = system.stored(), system.registry.service.events.max_position()
    # As the request was once allowed to say it: whoever it names, as a pair.
    claimed = order({"mentor_id": ids["petrova"], "mentee_ids": [ids["orlov"]],
                     "form": "учитель – ученик"})
    refused = system.post("/documents/pairs-order", claimed)
    assert refused.status_code == 422 and refused.json()["code"] == "VALIDATION_ERROR", refused.text
    # With a pair id the pairing never gave out.
    invented = str(uuid4())
    unknown = system.post("/documents/pairs-order", order({"pair_id": invented, **claimed["pairs"][0]}))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "PAIR_NOT_FOUND"
    assert unknown.json()["details"] == [{"pair_id": invented}]
    assert "подборе пар" in unknown.json()["message"]
    # Nothing registered, no number taken, and the registry was not asked for a name.
    assert system.stored() == stored
    assert system.registry.service.events.max_position() == registry
    with system.documents.service.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(views.number_claims)).scalar() == 0
    assert system.get("/documents", kind="pairs_order").json() == []


def test_foreign_closed_repeated_or_misdescribed_pairs_refuse_the_whole_order(system: System) -> None:
    ids = paired(system, people(system))
    ids["sokolov"] = register(system, "mentee", "school-b", "Соколов", "Илья", "Романович",
                              "2012-03-01", guardian_name="Соколова Анна Ивановна")
    ids["pair-b"] = form_pair(system, programme(system, "school-b"), ids["stranger"], ids["sokolov"],
                              scope=SCHOOL_B)
    good = pairs_body(ids)["pairs"]  # type: ignore[index]
    stored, registry = system.stored(), system.registry.service.events.max_position()

    def refused(body: dict[str, Any], role: Role = Role.CURATOR, scope: str = SCHOOL_A
                ) -> tuple[int, str, list[dict[str, str]]]:
        response = system.post("/documents/pairs-order", body, role, scope)
        answer = response.json()
        assert response.status_code >= 400, response.text
        assert any("а" <= ch <= "я" for ch in answer["message"].lower()), answer  # said in Russian
        return response.status_code, answer["code"], answer.get("details") or []

    # The municipality reads both schools' pairs, but school A's order lists school A's only.
    assert refused(order(*good, {"pair_id": ids["pair-b"]}), Role.MUNICIPAL, "demo/m1") == (
        422, "PAIR_OF_ANOTHER_ORGANISATION", [{"pair_id": ids["pair-b"]}])
    assert refused(order(good[0], good[0])) == (422, "DUPLICATE_PAIR", [{"pair_id": ids["pair-1"]}])
    wrong_mentor = {**good[0], "mentor_id": ids["kuznetsov"]}
    wrong_group = {**good[1], "mentee_ids": [ids["belova"]]}
    wrong_form = {**good[0], "form": "ученик – ученик"}
    assert refused(order(wrong_mentor, wrong_group)) == (409, "PAIR_MISMATCH", [
        {"pair_id": ids["pair-1"], "field": "mentor_id"},
        {"pair_id": ids["pair-2"], "field": "mentee_ids"}])
    assert refused(order(wrong_form))[1:] == ("PAIR_MISMATCH", [{"pair_id": ids["pair-1"],
                                                                "field": "form"}])
    dissolved = system.post(f"/pairing/pairs/{ids['pair-2']}/dissolve", {"reason": "переезд"})
    assert dissolved.status_code == 200, dissolved.text
    assert refused(order(*good)) == (409, "PAIR_NOT_ACTIVE", [{"pair_id": ids["pair-2"]}])
    assert system.stored() == stored
    assert system.registry.service.events.max_position() == registry

    # What remains true is issued: the pair still active, as the pairing formed it.
    issued = system.post("/documents/pairs-order", order(good[0]))
    assert issued.status_code == 201, issued.text


def test_pairs_named_by_id_are_printed_as_the_pairing_formed_them(system: System,
                                                                  tmp_path: Path) -> None:
    ids = paired(system, people(system))
    system.clock.today = date(2023, 9, 15)
    issued = system.post("/documents/pairs-order", order({"pair_id": ids["pair-1"]},
                                                        {"pair_id": ids["pair-2"]}))
    assert issued.status_code == 201, issued.text
    document = issued.json()
    assert set(document["subject_ids"]) == {ids[k] for k in ("petrova", "kuznetsov", "orlov",
                                                             "belova", "zaitsev")}
    with system.documents.service.engine.connect() as conn:
        recipe = conn.execute(sa.select(views.recipes)).one()
    assert [(p["pair_id"], p["mentor_id"], sorted(p["mentee_ids"]), p["form"])
            for p in recipe.body["pairs"]] == [
        (ids["pair-1"], ids["petrova"], [ids["orlov"]], "Учитель – ученик"),
        (ids["pair-2"], ids["kuznetsov"], sorted([ids["belova"], ids["zaitsev"]]),
         "Учитель – ученик")]
    docx = system.get(document["docx_url"])
    assert docx.status_code == 200, docx.text
    text = read_documents({"order": docx.content}, tmp_path / "docs", tmp_path / "profile")["order"]
    for expected in ("№ 1-н", "15.09.2023", "Петрова Анна Сергеевна", "Орлов Егор Ильич",
                     "Кузнецов Павел Андреевич", "Белова Мария Олеговна", "Зайцев Илья Романович",
                     "Учитель – ученик"):
        assert expected in text, expected
    assert "teacher-student" not in text  # a form's code is never printed


def test_the_order_carries_the_number_and_date_the_curator_gives(system: System,
                                                                 tmp_path: Path) -> None:
    ids = paired(system, people(system))
    system.clock.today = date(2023, 9, 15)
    text = issued_as(system, tmp_path, "/documents/pairs-order", {
        **order({"pair_id": ids["pair-1"]}), "number": "№ 112-о", "date": "2023-09-12"},
        ("112-о", "2023-09-12"))
    assert "№ 112-о" in text and "12.09.2023" in text and "1-н" not in text
    # The number is the organisation's own: given twice, the second order is refused.
    again = system.post("/documents/pairs-order", {
        **order({"pair_id": ids["pair-2"]}), "number": "112-О", "date": "2023-09-13"})
    assert (again.status_code, again.json()["code"]) == (409, "DOCUMENT_NUMBER_TAKEN")
    assert "112-О" in again.json()["message"]
    future = system.post("/documents/pairs-order", {
        **order({"pair_id": ids["pair-2"]}), "number": "113-о", "date": "2023-09-16"})
    assert (future.status_code, future.json()["code"]) == (422, "DATE_IN_FUTURE")
    # Without a number the register numbers it, dated today.
    numbered = system.post("/documents/pairs-order", order({"pair_id": ids["pair-2"]}))
    assert numbered.status_code == 201, numbered.text
    assert (numbered.json()["number"], numbered.json()["date"]) == ("1-н", "2023-09-15")
    # A number given by hand is skipped by the series.
    assert system.post("/documents/pairs-order", {
        **order({"pair_id": ids["pair-1"]}), "number": "2-н"}).status_code == 201
    assert system.post("/documents/pairs-order",
                       order({"pair_id": ids["pair-2"]})).json()["number"] == "3-н"


def test_a_confirmed_pair_with_another_schools_mentor_is_in_the_order_by_name_and_organisation(
        system: System, tmp_path: Path) -> None:
    mentor = register(system, "mentor", "school-b", "Гончарова", "Вера", "Ильинична", "1979-02-11")
    mentee = register(system, "mentee", "school-a", "Тихонов", "Лев", "Маркович", "2011-05-03",
                      guardian_name="Тихонова Ольга Петровна")
    pair = form_pair(system, programme(system, "school-a"), mentor, mentee)
    # The school's curator does not read the other school's people...
    assert system.get(f"/registry/people/{mentor}").status_code == 404
    # ...nor may a proposal still waiting for the mentor's school go into an order.
    waiting = system.post("/documents/pairs-order", {**order({"pair_id": pair}), "number": "5-о"})
    assert (waiting.status_code, waiting.json()["code"]) == (409, "PAIR_NOT_ACTIVE")
    confirmed = system.post(f"/pairing/pairs/{pair}/confirm", {}, Role.CURATOR, SCHOOL_B)
    assert confirmed.status_code == 204, confirmed.text
    issued = system.post("/documents/pairs-order", {
        **order({"pair_id": pair}), "number": "№ 112-о", "date": system.clock.today.isoformat()})
    assert issued.status_code == 201, issued.text
    document = issued.json()
    assert document["number"] == "112-о"
    docx = system.get(document["docx_url"])  # rendered again at download, names granted again
    assert docx.status_code == 200, docx.text
    text = read_documents({"order": docx.content}, tmp_path / "docs", tmp_path / "profile")["order"]
    for expected in ("№ 112-о", "Гончарова Вера Ильинична (Школа school-b)", "Тихонов Лев Маркович",
                     system.clock.today.strftime("%d.%m.%Y")):
        assert expected in text, expected
    # The pair grants the name alone: the mentor's card stays closed to the other school.
    assert system.get(f"/registry/people/{mentor}").status_code == 404


def test_the_curator_order_carries_the_number_and_date_the_curator_gives(
        system: System, tmp_path: Path) -> None:
    system.clock.today = date(2026, 10, 5)
    curator = {**ISSUER, "org": SCHOOL_A, "school_year": "2026-2027",
               "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя истории",
               "forms": ["учитель – ученик"]}
    text = issued_as(system, tmp_path, "/documents/curator-order",
                     {**curator, "number": "№ 112-о", "date": "2026-10-02"}, ("112-о", "2026-10-02"))
    assert "№ 112-о" in text and "02.10.2026" in text and "1-к" not in text
    # The organisation's number is its own, a date not yet come and a number that is not one
    # are refused in Russian, and nothing is issued for them.
    stored = system.stored()
    again = system.post("/documents/curator-order", {**curator, "number": "112-О"})
    assert (again.status_code, again.json()["code"]) == (409, "DOCUMENT_NUMBER_TAKEN")
    future = system.post("/documents/curator-order", {**curator, "date": "2026-10-06"})
    assert (future.status_code, future.json()["code"]) == (422, "DATE_IN_FUTURE")
    assert future.json()["message"] == "Дата приказа ещё не наступила"
    bad_number = system.post("/documents/curator-order", {**curator, "number": "12<script>"})
    assert bad_number.status_code == 422, bad_number.text
    assert bad_number.json()["details"] == [{
        "field": "number", "code": "value_error",
        "message": "«12<script>» — не номер приказа: допустимы буквы, цифры, дефис, точка и "
                   "косая черта, например «112-о»"}]
    bad_date = system.post("/documents/curator-order", {**curator, "date": "02.10.2026"})
    assert bad_date.status_code == 422, bad_date.text
    assert [(d["field"], d["message"]) for d in bad_date.json()["details"]] == [
        ("date", "нужна дата в виде ГГГГ-ММ-ДД")]
    assert system.stored() == stored
    # Without them the register numbers it in its series and dates it today.
    numbered = system.post("/documents/curator-order", curator)
    assert (numbered.json()["number"], numbered.json()["date"]) == ("1-к", "2026-10-05")
