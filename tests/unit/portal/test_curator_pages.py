"""The curator's screens: the worklist, a person added by form, programmes, documents, the
confirmed withdrawal of a consent, the Russian order of names, error pages and the header."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.portal.collation import ru_key, ru_sorted
from services.portal.frame import said_well
from services.portal.lookups import current_school_year
from services.portal.pages.person_form import person_body
from services.portal.pages.worklist import missing_feedback, plural
from shared.auth import Role
from shared.web import install_error_handlers
from tests.unit.portal.conftest import PortalUnderTest

SCHOOL = {"id": "00000000-0000-0000-0000-00000000000a", "path": "demo/m1/school-1",
          "name": "МБОУ «Школа № 1»", "kind": "school", "parent_id": "00000000-0000-0000-0000-00000000000b"}
OTHER = "00000000-0000-0000-0000-0000000000ff"
MENTOR, MENTEE, MENTEE_2 = (f"00000000-0000-0000-0000-0000000001{i:02d}" for i in range(3))
PAIR = "00000000-0000-0000-0000-000000000201"
PERSON = {"id": MENTEE, "role": "mentee", "organisation_id": SCHOOL["id"], "category": "student",
          "grade": 7, "birth_year": 2013, "consent": "guardian", "withdrawn": False,
          "can_be_paired": True, "full_name": "Абрамова Ева Игоревна",
          "personal": {"guardian_name": "Абрамова Ольга Петровна"}}


# --- the Russian alphabetical order -------------------------------------------------------------

def test_names_follow_the_russian_alphabet_with_yo_as_ye_and_case_aside() -> None:
    names = ["Ёлкин Артём", "Жуков Иван", "александров Пётр", "Елисеев Олег", "Яковлева Анна",
             "Ежов Борис", "Smith John", "Ёжиков Лев", None]
    assert ru_sorted(names, key=lambda n: n) == [
        "александров Пётр", "Ёжиков Лев", "Ежов Борис", "Елисеев Олег", "Ёлкин Артём", "Жуков Иван",
        "Яковлева Анна", "Smith John", None]
    # «е» and «ё» are one letter; a tie keeps «е» first, so the order is the same every time
    assert ru_key("Ёлкина") > ru_key("Елкина") and ru_key("Ёлкина")[0] == ru_key("елкина")[0]
    # a hyphen or a space separates words: the double surname sorts with its first part
    assert ru_sorted(["Иванова Анна", "Иванова-Петрова Анна", "Ивановская Анна"]) == [
        "Иванова Анна", "Иванова-Петрова Анна", "Ивановская Анна"]


# --- pure view logic ------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "year"), [(datetime.date(2026, 12, 7), "2026-2027"),
                                           (datetime.date(2027, 8, 31), "2026-2027"),
                                           (datetime.date(2027, 9, 1), "2027-2028")])
def test_the_school_year_starts_on_the_first_of_september(day: datetime.date, year: str) -> None:
    assert current_school_year(day) == year


def test_russian_plurals() -> None:
    assert [plural(n, "пара", "пары", "пар") for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "пара", "пары", "пар", "пар", "пара", "пары", "пар"]


def test_a_meeting_is_flagged_until_every_member_has_given_feedback() -> None:
    pair = {"mentee_ids": [MENTEE, MENTEE_2], "meetings": [
        {"number": 1, "feedback_from": ["mentee", "mentee", "mentor"]},
        {"number": 2, "feedback_from": ["mentee"]},
        {"number": 3, "feedback_from": []}]}
    found = [(m["number"], who) for m, who in missing_feedback(pair)]
    assert found == [(2, ["наставника", "наставляемых (1 из 2)"]),
                     (3, ["наставника", "наставляемых (2 из 2)"])]


def test_the_form_becomes_the_registrys_command() -> None:
    body = person_body({"last_name": " Абрамова ", "first_name": "Ева", "middle_name": "",
                        "birth_date": "2013-05-06", "category": "student", "grade": "7",
                        "requests": "олимпиада; адаптация,\nпроект", "consent_given_by": "guardian",
                        "guardian_name": "Абрамова Ольга Петровна"}, "mentee", SCHOOL["id"])
    assert body["person"]["last_name"] == "Абрамова" and body["person"]["middle_name"] is None
    assert body["grade"] == 7 and body["requests"] == ["олимпиада", "адаптация", "проект"]
    assert body["consent_given_by"] == "guardian" and "competencies" not in body
    mentor = person_body({"category": "teacher", "grade": "седьмой", "capacity": ""}, "mentor", SCHOOL["id"])
    # not a number goes as typed, so the registry names the field; no capacity means one mentee
    assert mentor["grade"] == "седьмой" and mentor["capacity"] == 1 and mentor["competencies"] == []


def test_a_refusal_names_its_entity_grammatically() -> None:
    assert said_well("PAIR_NOT_FOUND", "Пара не найден(а)") == "Пара не найдена"
    assert said_well("PERSON_NOT_FOUND", "Участник не найден(а)") == "Участник не найден"
    assert said_well("SOMETHING_NOT_FOUND", "Нечто не найден(а)") == "Нечто не найдено"
    assert said_well("FORBIDDEN", "Недостаточно прав") == "Недостаточно прав"


# --- the worklist --------------------------------------------------------------------------------

def school_api(portal: PortalUnderTest) -> None:
    api = portal.api
    api.on("GET", "/registry/organisations", [SCHOOL])
    api.on("GET", f"/registry/organisations/{SCHOOL['id']}", SCHOOL)
    api.on("GET", f"/registry/organisations/{SCHOOL['id']}/people", [
        {**PERSON, "id": MENTOR, "role": "mentor", "full_name": "Ёлкин Артём Сергеевич"},
        PERSON, {**PERSON, "id": MENTEE_2, "full_name": None, "withdrawn": True, "grade": 8}])


def worklist_api(portal: PortalUnderTest) -> None:
    school_api(portal)
    pair = {"id": PAIR, "organisation_id": SCHOOL["id"], "mentor_id": MENTOR, "mentee_ids": [MENTEE],
            "status": "active", "form": "student-student", "meetings": 1, "path": SCHOOL["path"]}
    api = portal.api
    api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes",
           [{"id": "p", "form": "student-student", "school_year": "2020-2021", "curator": "К"}])
    api.on("GET", "/monitoring/calendar", {"configured": True, "today": "2026-12-07", "reports": [
        {"report_id": "r1", "path": SCHOOL["path"], "reported_to": "demo/m1", "status": "overdue",
         "period": "2026-H2", "deadline": "2026-11-25", "level": "organisation", "days_left": -12}]})
    api.on("GET", "/documents/reports", [{"report_id": "r1", "id": "d1", "status": "draft"}])
    api.on("GET", "/documents/roadmaps", [])
    api.on("GET", "/pairing/reminders", [
        {**pair, "idle_days": 40, "code": "NO_MEETINGS", "message": "Нет встреч 40 дн. (порог — 30 дн.)"},
        {**pair, "id": "elsewhere", "organisation_id": OTHER, "code": "NO_MEETINGS", "message": "чужая"}])
    api.on("GET", "/pairing/pairs", [pair])
    api.on("GET", f"/pairing/pairs/{PAIR}", {**pair, "meetings": [
        {"number": 1, "kind": "intro", "date": "2026-10-01", "feedback_from": ["mentor"]}]})
    api.on("GET", "/monitoring/questionnaires", [])
    api.on("GET", "/monitoring/surveys/answered", [])
    api.on("GET", f"/pairing/organisations/{SCHOOL['id']}/pool", {
        "mentors": [{"id": MENTOR, "capacity": 3, "load": 1, "consent": "self", "withdrawn": False}],
        "mentees": [{"id": MENTEE_2, "in_pool": True, "consent": "self", "withdrawn": False}]})


def section(page: str, key: str) -> str:
    start = page.index(f'data-section="{key}"')
    return page[start:page.index("</section>", start)]


def test_the_curator_starts_on_a_worklist_that_leads_to_each_task(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    client = portal.client()
    assert client.get("/").headers["location"] == f"/organisations/{SCHOOL['id']}/worklist"
    page = client.get(f"/organisations/{SCHOOL['id']}/worklist")
    assert page.status_code == 200
    reports = section(page.text, "reports")
    assert "/reports/d1/submit" in reports and "просрочено" in reports
    inactive = section(page.text, "inactive")
    assert f"/pairs/{PAIR}" in inactive and "Нет встреч 40 дн." in inactive and "чужая" not in inactive
    feedback = section(page.text, "feedback")
    assert "Ёлкин Артём Сергеевич — Абрамова Ева Игоревна" in feedback
    assert "встреча № 1 от 01.10.2026: нет отзыва наставляемого" in feedback
    assert "1 наставляемый без пары" in section(page.text, "pool")
    assert "свободных мест у наставников организации: 2" in section(page.text, "pool")
    assert f"/organisations/{SCHOOL['id']}/programmes" in section(page.text, "programme")
    assert "в порядке" in section(page.text, "roadmap")


def test_a_service_that_does_not_answer_leaves_the_rest_of_the_worklist(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("GET", "/pairing/reminders", {"code": "SERVICE_UNAVAILABLE", "message": "нет"}, status=503)
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/worklist")
    assert page.status_code == 200
    assert "сервис не ответил" in section(page.text, "inactive")
    assert "/reports/d1/submit" in section(page.text, "reports")


# --- the bases: the Russian order, a person by form, the withdrawal -------------------------------

def test_the_base_lists_names_in_the_russian_order_and_labels_erased_records(portal: PortalUnderTest) -> None:
    school_api(portal)
    page = portal.client().get(f"/organisations/{SCHOOL['id']}").text
    assert page.index("Абрамова Ева Игоревна") < page.index("Ёлкин Артём Сергеевич")
    assert "Наставляемый, 8 класс, запись 00000000 (данные удалены)" in page
    assert page.index("Ёлкин") < page.index("данные удалены")
    assert "Добавить наставника" in page and "Добавить наставляемого" in page


def test_the_registrys_refusal_shows_at_its_field_and_keeps_what_was_typed(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("POST", "/registry/mentees", {
        "code": "VALIDATION_ERROR", "message": "Проверьте данные", "details": [
            {"field": "person.birth_date", "code": "IMPLAUSIBLE_DATE", "message": "Дата рождения в будущем."},
            {"field": "", "code": "value_error", "message": "для обучающегося укажите класс от 1 до 11"}]},
        status=422)
    page = portal.client().post(f"/organisations/{SCHOOL['id']}/people/new?role=mentee", data={
        "last_name": "Абрамова", "first_name": "Ева", "birth_date": "2033-01-01", "category": "student"})
    assert page.status_code == 422
    assert re.search(r'id="f-birth_date-error">Дата рождения в будущем', page.text)
    assert re.search(r'id="f-grade-error">Для обучающегося укажите класс', page.text)
    assert 'value="Абрамова"' in page.text and "Участник не добавлен" in page.text
    assert portal.api.sent("POST", "/registry/mentees")[0]["person"]["birth_date"] == "2033-01-01"


def test_a_minor_without_a_guardian_is_refused_at_the_guardian_field(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("POST", "/registry/mentees", {
        "code": "GUARDIAN_CONSENT_REQUIRED",
        "message": "Участнику нет 18 лет: нужно согласие законного представителя с его ФИО"}, status=422)
    page = portal.client().post(f"/organisations/{SCHOOL['id']}/people/new?role=mentee", data={
        "last_name": "Абрамова", "first_name": "Ева", "birth_date": "2013-05-06", "category": "student",
        "grade": "7", "consent_given_by": "self"})
    assert re.search(r'id="f-guardian_name-error">Участнику нет 18 лет', page.text)
    field = page.text[page.text.index('id="f-guardian_name"'):]
    assert 'aria-invalid="true"' in field[:field.index(">")]


def test_a_saved_person_is_confirmed_on_their_card(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("POST", "/registry/mentors", {"id": MENTOR}, status=201)
    saved = portal.client().post(f"/organisations/{SCHOOL['id']}/people/new?role=mentor", data={
        "last_name": "Ёлкин", "first_name": "Артём", "birth_date": "1986-04-12", "category": "teacher",
        "competencies": "олимпиады", "capacity": "2", "consent_given_by": "self"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/people/{MENTOR}?saved=added"
    body = portal.api.sent("POST", "/registry/mentors")[0]
    assert body["capacity"] == 2 and body["competencies"] == ["олимпиады"]
    portal.api.on("GET", f"/registry/people/{MENTOR}", {**PERSON, "id": MENTOR, "role": "mentor",
                                                        "full_name": "Ёлкин Артём Сергеевич"})
    card = portal.client().get(saved.headers["location"]).text
    assert "В базу организации добавлен наставник: Ёлкин Артём Сергеевич" in card


def test_a_withdrawal_names_the_person_and_needs_a_reason(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/registry/people/{MENTEE}", PERSON)
    portal.api.on("POST", f"/registry/people/{MENTEE}/consent/withdraw", None, status=204)
    client = portal.client()
    confirm = client.get(f"/people/{MENTEE}/withdraw")
    assert confirm.status_code == 200 and "Отозвать согласие: Абрамова Ева Игоревна" in confirm.text
    assert "Абрамова Ольга Петровна" in confirm.text and "необратимо" in confirm.text
    refused = client.post(f"/people/{MENTEE}/withdraw", data={"reason": " "})
    assert refused.status_code == 422 and "Укажите причину отзыва" in refused.text
    assert portal.api.sent("POST", f"/registry/people/{MENTEE}/consent/withdraw") == []
    done = client.post(f"/people/{MENTEE}/withdraw", data={"reason": "заявление представителя"})
    assert done.status_code == 303 and done.headers["location"] == f"/people/{MENTEE}?withdrawn=1"
    assert portal.api.sent("POST", f"/registry/people/{MENTEE}/consent/withdraw") == [
        {"reason": "заявление представителя"}]


# --- programmes and documents -----------------------------------------------------------------------

def test_a_programme_is_launched_with_a_form_a_year_and_a_curator(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", "/registry/forms", {"region": "demo", "configured": True, "forms": [
        {"code": "student-student", "title": "Ученик – ученик", "enabled": True, "description": ""},
        {"code": "employer-college", "title": "Работодатель – студент", "enabled": True, "description": ""},
        {"code": "teacher-peer", "title": "Педагог – педагог (равный – равному)", "enabled": False,
         "description": ""}]})
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes",
                  [{"id": "p", "form": "student-student", "school_year": "2025-2026", "curator": "Волкова"}])
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/programmes").text
    assert "<td>Ученик – ученик</td>" in page and '<option value="Работодатель – студент" >' in page
    assert "Педагог – педагог" not in page  # the region does not offer it
    portal.api.on("POST", "/registry/programmes", {
        "code": "FORM_DISABLED", "message": "Форма «Педагог – педагог» не предлагается в регионе"},
        status=422)
    disabled = portal.client().post(f"/organisations/{SCHOOL['id']}/programmes", data={
        "form": "Педагог – педагог (равный – равному)", "school_year": "2026-2027", "curator": "Волкова"})
    assert disabled.status_code == 422
    assert 'id="p-form-error">Форма «Педагог – педагог» не предлагается в регионе' in disabled.text
    portal.api.on("POST", "/registry/programmes", {
        "code": "VALIDATION_ERROR", "message": "x", "details": [
            {"field": "curator", "code": "string_too_short", "message": "слишком короткое значение"}]},
        status=422)
    refused = portal.client().post(f"/organisations/{SCHOOL['id']}/programmes", data={
        "form": "Ученик – ученик", "school_year": "2026-2027", "curator": ""})
    assert refused.status_code == 422 and 'id="p-curator-error">Слишком короткое значение' in refused.text
    portal.api.on("POST", "/registry/programmes", {"id": "new"}, status=201)
    launched = portal.client().post(f"/organisations/{SCHOOL['id']}/programmes", data={
        "form": "Ученик – ученик", "school_year": "2026-2027", "curator": "Волкова Елена Викторовна"})
    assert launched.headers["location"].endswith("/programmes?saved=1")
    assert portal.api.sent("POST", "/registry/programmes")[-1] == {
        "organisation_id": SCHOOL["id"], "form": "Ученик – ученик", "school_year": "2026-2027",
        "curator": "Волкова Елена Викторовна"}


def test_a_consent_form_is_issued_for_the_person_and_offered_for_download(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/registry/people/{MENTEE}", PERSON)
    portal.api.on("POST", "/documents/consent", {"id": "doc-1"}, status=201)
    issued = portal.client().post(f"/people/{MENTEE}/consent-form", data={
        "signatory_position": "Директор", "signatory_name": "Смирнова Ирина Петровна"})
    assert issued.headers["location"] == f"/people/{MENTEE}?issued=doc-1"
    assert portal.api.sent("POST", "/documents/consent") == [{
        "org": SCHOOL["path"], "organisation_name": SCHOOL["name"], "person_id": MENTEE,
        "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}]
    card = portal.client().get(issued.headers["location"]).text
    assert 'href="/files/doc-1/docx"' in card and 'href="/files/doc-1/pdf"' in card


def test_the_curator_order_prints_the_forms_in_russian(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", "/documents", [])
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes",
                  [{"id": "p", "form": "student-student", "school_year": "2026-2027", "curator": "Волкова"}])
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/documents").text
    assert 'name="forms" value="Ученик – ученик"' in page and 'value="Волкова"' in page
    portal.api.on("POST", "/documents/curator-order", {"id": "o-1"}, status=201)
    issued = portal.client().post(f"/organisations/{SCHOOL['id']}/curator-order", data={
        "school_year": "2026-2027", "curator_name": "Волкова Елена Викторовна",
        "curator_position": "учитель", "forms": ["Ученик – ученик"], "signatory_position": "Директор",
        "signatory_name": "Смирнова Ирина Петровна"})
    assert issued.headers["location"].endswith("/documents?issued=o-1")
    assert portal.api.sent("POST", "/documents/curator-order")[0]["forms"] == ["Ученик – ученик"]


def test_the_curator_order_takes_the_number_and_date_the_curator_gives(
        portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", "/documents", [])
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes", [])
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/documents").text
    form = page[page.index('action="/organisations/' + SCHOOL["id"] + '/curator-order"'):]
    assert '<label for="o-number">Номер приказа</label>' in form
    assert '<label for="o-date">Дата приказа</label>' in form and 'name="order_date" type="date"' in form
    fields = {"school_year": "2026-2027", "curator_name": "Волкова Елена Викторовна",
              "curator_position": "учитель", "signatory_position": "Директор",
              "signatory_name": "Смирнова Ирина Петровна"}
    portal.api.on("POST", "/documents/curator-order", {"id": "o-1"}, status=201)
    issued = portal.client().post(f"/organisations/{SCHOOL['id']}/curator-order", data={
        **fields, "order_number": " 112-о ", "order_date": "2026-10-02"})
    assert issued.headers["location"].endswith("/documents?issued=o-1")
    sent = portal.api.sent("POST", "/documents/curator-order")[0]
    assert (sent["number"], sent["date"]) == ("112-о", "2026-10-02")
    # A bad date is refused by the service; the page names the field as the form does.
    portal.api.on("POST", "/documents/curator-order", {
        "code": "VALIDATION_ERROR", "message": "Проверьте данные: date: нужна дата в виде ГГГГ-ММ-ДД",
        "status": 422, "details": [{"field": "date", "code": "date_from_datetime_parsing",
                                    "message": "нужна дата в виде ГГГГ-ММ-ДД"}]}, status=422)
    refused = portal.client().post(f"/organisations/{SCHOOL['id']}/curator-order", data={
        **fields, "order_date": "02.10.2026"})
    page = portal.client().get(refused.headers["location"]).text
    assert "Приказ не сформирован: дата приказа — нужна дата в виде ГГГГ-ММ-ДД" in page
    # Without them nothing is sent: the register numbers and dates the order.
    portal.api.on("POST", "/documents/curator-order", {"id": "o-2"}, status=201)
    portal.client().post(f"/organisations/{SCHOOL['id']}/curator-order", data=fields)
    assert {"number", "date"}.isdisjoint(portal.api.sent("POST", "/documents/curator-order")[-1])


def test_a_meeting_saved_is_confirmed_on_the_pair_page(portal: PortalUnderTest) -> None:
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/meetings", {"number": 1}, status=201)
    saved = portal.client().post(f"/pairs/{PAIR}/meetings", data={
        "kind": "intro", "date": "2026-12-01", "duration_minutes": "45"})
    assert saved.headers["location"] == f"/pairs/{PAIR}?saved=meetings"


def test_the_meeting_form_names_the_side_without_feedback_and_takes_a_reason(
        portal: PortalUnderTest) -> None:
    school_api(portal)
    api = portal.api
    api.on("GET", f"/pairing/pairs/{PAIR}", {
        "id": PAIR, "organisation_id": SCHOOL["id"], "path": SCHOOL["path"], "mentor_id": MENTOR,
        "mentee_ids": [MENTEE], "status": "active", "form": "student-student", "size": 1,
        "formed_on": "2026-09-01", "order_ref": None, "cross_organisation": False,
        "organisation_name": SCHOOL["name"], "mentor_organisation_name": None, "goals": [],
        "close_reason": None, "decline_reason": None, "returned_mentee_ids": [],
        "feedback_missing": ["mentee"], "next_kinds": ["planning"], "meetings": [
            {"number": 1, "kind": "intro", "date": "2026-10-01", "duration_minutes": 45,
             "format": "in_person", "feedback_from": ["mentor"],
             "missing_feedback_reason": "Наставляемый болел"},
            {"number": 2, "kind": "trial", "date": "2026-10-08", "duration_minutes": 45,
             "format": "in_person", "feedback_from": ["mentor"], "missing_feedback_reason": None}]})
    for number in (1, 2):
        api.on("GET", f"/pairing/pairs/{PAIR}/meetings/{number}/feedback", [])
    api.on("GET", "/monitoring/questionnaires", [])
    api.on("GET", "/monitoring/surveys/answered", [])
    page = portal.client().get(f"/pairs/{PAIR}")
    assert page.status_code == 200, page.text
    assert "Нет обратной связи по встрече № 2 от наставляемого." in page.text
    assert 'name="missing_feedback_reason"' in page.text
    assert "Причина отсутствия обратной связи: Наставляемый болел" in page.text
    assert '<option value="planning" selected>' in page.text  # the kind the order allows next

    api.on("POST", f"/pairing/pairs/{PAIR}/meetings", {"number": 3}, status=201)
    portal.client().post(f"/pairs/{PAIR}/meetings", data={
        "kind": "planning", "date": "2026-10-15", "duration_minutes": "45",
        "missing_feedback_reason": " Наставляемый на сборах "})
    assert api.sent("POST", f"/pairing/pairs/{PAIR}/meetings")[0][
        "missing_feedback_reason"] == "Наставляемый на сборах"


# --- error pages and the header ---------------------------------------------------------------------

def test_an_unknown_address_gets_a_russian_page_in_a_browser_and_json_elsewhere(
        portal: PortalUnderTest) -> None:
    install_error_handlers(portal.app)

    @portal.app.get("/registry/organisations")  # an API route beside the portal's pages
    def api_route() -> list[Any]:
        return []

    html = {"Accept": "text/html,application/xhtml+xml"}
    client = portal.client()
    page = client.get("/no-such-page", headers=html)
    assert page.status_code == 404 and "<h1>Не найдено</h1>" in page.text and 'lang="ru"' in page.text
    assert client.get("/no-such-page").json() == {"code": "NOT_FOUND", "message": "Адрес не найден",
                                                  "status": 404}
    # the fallback never shadows a route that knows the path, whichever order they were added in
    assert client.get("/registry/organisations", headers=html).json() == []
    # a malformed id is a page that does not exist, not a form to correct
    bad_id = client.get("/people/not-an-id", headers=html)
    assert bad_id.status_code == 404 and "Такой страницы нет" in bad_id.text


def test_a_bug_behind_a_page_gets_a_russian_500_page(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [SCHOOL])
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}", {"unexpected": "shape"})
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes", [])
    portal.api.on("GET", "/registry/forms", {"region": "demo", "configured": False, "forms": []})
    page = TestClient(portal.app, base_url="http://portal.test", raise_server_exceptions=False,
                      cookies=portal.client().cookies).get(f"/organisations/{SCHOOL['id']}/programmes")
    assert page.status_code == 500 and "Ошибка на стороне сервера" in page.text
    assert "Traceback" not in page.text


def test_the_header_names_the_organisation_once_read(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes", [])
    client = portal.client()
    for _ in range(2):
        page = client.get(f"/organisations/{SCHOOL['id']}/programmes").text
        who = page[page.index('class="who"'):page.index("</div>", page.index('class="who"'))]
        assert SCHOOL["name"] in who
        assert SCHOOL["path"] not in who
    asked = [c for c in portal.api.calls if c.url.path == "/registry/organisations"]
    assert len(asked) == 1  # the name is kept for a while, not asked on every page
    assert asked[0].url.params["under"] == SCHOOL["path"]


def test_a_territory_user_is_not_led_to_a_curators_bases(portal: PortalUnderTest) -> None:
    assert portal.client(Role.MUNICIPAL, "demo/m1").get("/bases").headers["location"] == "/dashboard"


def test_new_forms_post_json_the_api_accepts(portal: PortalUnderTest) -> None:
    """Every body the new forms send is plain JSON (no portal-only keys)."""
    school_api(portal)
    portal.api.on("POST", "/registry/mentees", {"id": MENTEE}, status=201)
    portal.client().post(f"/organisations/{SCHOOL['id']}/people/new?role=mentee", data={
        "last_name": "Абрамова", "first_name": "Ева", "birth_date": "2013-05-06", "category": "student",
        "grade": "7", "consent_given_by": "guardian", "guardian_name": "Абрамова Ольга Петровна"})
    body = json.loads(portal.api.calls[-1].content)
    assert set(body) == {"organisation_id", "category", "person", "consent_given_by", "class_letter",
                         "grade", "requests"}
    assert set(body["person"]) == {"last_name", "first_name", "middle_name", "birth_date", "snils",
                                   "phone", "email", "guardian_name"}
    assert isinstance(portal.api.calls[-1], httpx.Request)


def test_a_mentors_category_is_chosen_not_assumed(portal: PortalUnderTest) -> None:
    school_api(portal)
    form = portal.client().get(f"/organisations/{SCHOOL['id']}/people/new?role=mentor").text
    chosen = re.findall(r'<option value="(\w*)" selected>', form[form.index('id="f-category"'):])
    assert chosen[:1] == [""]  # «— выберите категорию —»
    form = portal.client().get(f"/organisations/{SCHOOL['id']}/people/new?role=mentee").text
    chosen = re.findall(r'<option value="(\w*)" selected>', form[form.index('id="f-category"'):])
    assert chosen[:1] == ["student"]
