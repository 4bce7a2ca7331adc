"""A pair proposed across organisations in the portal: the mentor's school sees «Предложения пар
от других организаций» and answers them, the proposer sees its pending and declined proposals,
and the pair card names both organisations."""

from __future__ import annotations

import datetime
import re
from typing import Any

import httpx

from services.portal.lookups import current_school_year, date_today
from tests.unit.portal.conftest import PortalUnderTest
from tests.unit.portal.test_curator_pages import MENTEE, MENTOR, PAIR, SCHOOL, school_api

OTHER_SCHOOL = {"id": "00000000-0000-0000-0000-0000000000cc", "path": "demo/m1/school-2",
                "name": "МБОУ «Школа № 2»", "kind": "school"}
DECLINED = "00000000-0000-0000-0000-000000000202"


def proposal(**extra: Any) -> dict[str, Any]:
    return {"id": PAIR, "organisation_id": OTHER_SCHOOL["id"], "path": OTHER_SCHOOL["path"],
            "mentor_id": MENTOR, "mentor_organisation_id": SCHOOL["id"], "mentee_ids": [MENTEE],
            "status": "proposed", "form": "teacher-student", "size": 1, "meetings": 0,
            "formed_on": "2026-12-01", "last_meeting_on": None, "order_ref": None,
            "organisation_name": OTHER_SCHOOL["name"], "mentor_organisation_name": SCHOOL["name"],
            "cross_organisation": True, **extra}


def pairs_api(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", "/pairing/pairs", [])
    portal.api.on("GET", "/pairing/proposals", {
        "incoming": [proposal()],
        "outgoing": [proposal(id=DECLINED, organisation_id=SCHOOL["id"], path=SCHOOL["path"],
                              mentor_organisation_id=OTHER_SCHOOL["id"], status="declined",
                              mentor_organisation_name=OTHER_SCHOOL["name"],
                              decline_reason="Наставник занят до января")]})


def test_the_mentors_school_sees_proposals_to_answer_and_its_own_declined_ones(
        portal: PortalUnderTest) -> None:
    pairs_api(portal)
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/pairs")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Предложения пар от других организаций" in text
    incoming = text[text.index("incoming-title"):text.index("outgoing-title")]
    assert "Ёлкин Артём Сергеевич" in incoming and "МБОУ «Школа № 2»" in incoming
    assert f'action="/organisations/{SCHOOL["id"]}/proposals/{PAIR}/confirm"' in incoming
    assert f'action="/organisations/{SCHOOL["id"]}/proposals/{PAIR}/decline"' in incoming
    assert "Подтвердить" in incoming and "Отклонить" in incoming
    outgoing = text[text.index("outgoing-title"):]
    assert "отклонена организацией наставника" in outgoing
    assert "«Наставник занят до января»" in outgoing and "МБОУ «Школа № 2»" in outgoing


def test_confirming_and_declining_go_to_the_pairing_service(portal: PortalUnderTest) -> None:
    pairs_api(portal)
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/confirm", None, status=204)
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/decline", None, status=204)
    client = portal.client()
    page = f"/organisations/{SCHOOL['id']}/pairs"
    confirmed = client.post(f"/organisations/{SCHOOL['id']}/proposals/{PAIR}/confirm")
    assert confirmed.headers["location"] == page + "?answered=confirmed"
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/confirm") == [{}]
    declined = client.post(f"/organisations/{SCHOOL['id']}/proposals/{PAIR}/decline",
                           data={"reason": "  Наставник на больничном "})
    assert declined.headers["location"] == page + "?answered=declined"
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/decline") == [
        {"reason": "Наставник на больничном"}]
    client.post(f"/organisations/{SCHOOL['id']}/proposals/{PAIR}/decline", data={"reason": " "})
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/decline")[-1] == {"reason": None}
    answered = client.get(page + "?answered=confirmed").text
    assert "Пара подтверждена" in answered


def test_a_refused_answer_is_shown_in_russian_on_the_pairs_page(portal: PortalUnderTest) -> None:
    pairs_api(portal)
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/confirm", {
        "code": "NO_CAPACITY", "message": "У наставника нет столько свободных мест", "status": 409},
        status=409)
    refused = portal.client().post(f"/organisations/{SCHOOL['id']}/proposals/{PAIR}/confirm")
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    shown = portal.client().get(refused.headers["location"]).text
    assert "У наставника нет столько свободных мест" in shown


def test_an_answer_from_another_site_is_refused(portal: PortalUnderTest) -> None:
    pairs_api(portal)
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/confirm", None, status=204)
    forged = portal.client().post(f"/organisations/{SCHOOL['id']}/proposals/{PAIR}/confirm",
                                  headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/confirm") == []


def test_the_mentors_school_sees_the_pair_card_with_both_organisations(
        portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        **proposal(status="active"), "goals": [], "meetings": [], "close_reason": None,
        "decline_reason": None, "returned_mentee_ids": []})
    page = portal.client().get(f"/pairs/{PAIR}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Организация пары" in text and "МБОУ «Школа № 2»" in text
    assert "Организация наставника" in text and "МБОУ «Школа № 1»" in text
    assert "Наставник Ёлкин Артём Сергеевич" in text
    # The mentee's school keeps the meetings and the plan; the mentor's may end the pair.
    assert f'action="/pairs/{PAIR}/meetings"' not in text
    assert f'action="/pairs/{PAIR}/goals"' not in text
    assert f'href="/pairs/{PAIR}/dissolve"' in text
    # The other school's registry was never asked for its people.
    asked = {c.url.path for c in portal.api.calls}
    assert f"/registry/organisations/{OTHER_SCHOOL['id']}/people" not in asked


def test_a_proposal_waiting_for_an_answer_says_so_on_its_card(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        **proposal(organisation_id=SCHOOL["id"], path=SCHOOL["path"],
                   mentor_organisation_id=OTHER_SCHOOL["id"],
                   organisation_name=SCHOOL["name"], mentor_organisation_name=OTHER_SCHOOL["name"]),
        "goals": [], "meetings": [], "close_reason": None, "decline_reason": None,
        "returned_mentee_ids": []})
    portal.api.on("GET", "/monitoring/questionnaires", [])
    portal.api.on("GET", "/monitoring/surveys/answered", [])
    text = portal.client().get(f"/pairs/{PAIR}").text
    assert "ещё не подтверждена" in text and "ожидает подтверждения организацией наставника" in text
    assert f'action="/pairs/{PAIR}/meetings"' not in text


def test_a_confirmed_pair_with_our_mentor_is_listed_but_not_put_in_our_order(
        portal: PortalUnderTest) -> None:
    pairs_api(portal)
    theirs = proposal(status="active", meetings=2)

    def pairs(request: httpx.Request) -> httpx.Response:
        mentor_side = "mentor_organisation_id" in request.url.params
        return httpx.Response(200, json=[theirs] if mentor_side else [])

    portal.api.answers[("GET", "/pairing/pairs")] = pairs
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/pairs").text
    table = page[page.index('<table class="data pairs">'):]
    assert f'href="/pairs/{PAIR}"' in table and "действует" in table
    # The order lists the pairs filed at the school only: here none.
    ordered = portal.client().post(f"/organisations/{SCHOOL['id']}/pairs-order", data={
        "school_year": "2026-2027", "signatory_position": "Директор",
        "signatory_name": "Иванов Иван Иванович"})
    assert "error=" in ordered.headers["location"]
    assert portal.api.sent("POST", "/documents/pairs-order") == []


def test_a_suggested_mentor_of_another_organisation_is_offered_as_a_proposal_not_ticked(
        portal: PortalUnderTest) -> None:
    school_api(portal)
    foreign = "00000000-0000-0000-0000-0000000001ff"
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes",
                  [{"id": "p", "form": "teacher-student", "school_year": "2026-2027", "curator": "К"}])
    portal.api.on("GET", "/pairing/suggestions", {
        "form": "teacher-student", "form_title": "Учитель – ученик", "paired": 2, "mentees": 2,
        "groups": [{"mentor_id": MENTOR, "mentee_ids": [MENTEE], "score": 5, "assignments": []},
                   {"mentor_id": foreign, "mentee_ids": [PAIR], "score": 4, "assignments": []}],
        "unmatched": []})
    portal.api.on("GET", f"/pairing/organisations/{SCHOOL['id']}/pool", {"mentors": [], "mentees": []})
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/pairing").text
    boxes = re.findall(r'<input type="checkbox" name="group" value="([^"]+)"\s*(checked)?', page)
    assert [(value.split(":")[0], ticked) for value, ticked in boxes] == [
        (MENTOR, "checked"), (foreign, "")]
    assert "будет отправлена ей как предложение" in page


def test_the_pairs_order_is_proposed_for_the_current_school_year(portal: PortalUnderTest) -> None:
    pairs_api(portal)
    own = proposal(id=DECLINED, status="active", organisation_id=SCHOOL["id"], path=SCHOOL["path"],
                   cross_organisation=False)
    portal.api.on("GET", "/pairing/pairs", [own])
    text = portal.client().get(f"/organisations/{SCHOOL['id']}/pairs").text
    order = text[text.index('action="/organisations/' + SCHOOL["id"] + '/pairs-order"'):]
    year = current_school_year(datetime.date.fromisoformat(date_today()))
    assert f'name="school_year" required pattern="\\d{{4}}-\\d{{4}}" value="{year}"' in order


ELSEWHERE_MENTOR = "00000000-0000-0000-0000-0000000001ee"


def our_pair_with_their_mentor(portal: PortalUnderTest, status: str) -> None:
    school_api(portal)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        **proposal(organisation_id=SCHOOL["id"], path=SCHOOL["path"], status=status,
                   mentor_id=ELSEWHERE_MENTOR, mentor_organisation_id=OTHER_SCHOOL["id"],
                   organisation_name=SCHOOL["name"], mentor_organisation_name=OTHER_SCHOOL["name"]),
        "goals": [], "meetings": [], "close_reason": None, "decline_reason": None,
        "returned_mentee_ids": []})
    portal.api.on("GET", "/monitoring/questionnaires", [])
    portal.api.on("GET", "/monitoring/surveys/answered", [])
    portal.api.on("GET", "/registry/paired-mentors", {"pairs": {PAIR: {
        "mentor_id": ELSEWHERE_MENTOR, "full_name": "Петров Пётр Петрович",
        "organisation_name": OTHER_SCHOOL["name"]}}})


def test_a_confirmed_pair_names_the_other_schools_mentor_to_our_curator(
        portal: PortalUnderTest) -> None:
    our_pair_with_their_mentor(portal, "active")
    text = portal.client().get(f"/pairs/{PAIR}").text
    assert "Наставник Петров Пётр Петрович (МБОУ «Школа № 2»)" in text
    assert "участник другой организации" not in text
    [asked] = [c for c in portal.api.calls if c.url.path == "/registry/paired-mentors"]
    assert asked.url.params.get_list("pair_id") == [PAIR]


def test_a_proposal_keeps_the_other_schools_mentor_unnamed(portal: PortalUnderTest) -> None:
    our_pair_with_their_mentor(portal, "proposed")
    text = portal.client().get(f"/pairs/{PAIR}").text
    assert "Наставник участник другой организации" in text and "Петров" not in text
    assert not [c for c in portal.api.calls if c.url.path == "/registry/paired-mentors"]


def test_pairing_opens_on_this_school_years_programme_and_warns_on_an_old_one(
        portal: PortalUnderTest) -> None:
    school_api(portal)
    year = current_school_year(datetime.date.fromisoformat(date_today()))
    start = int(year[:4])
    programme = {"form": "teacher-student", "curator": "К"}
    old = {**programme, "id": "00000000-0000-0000-0000-0000000000a1", "school_year": f"{start - 1}-{start}"}
    new = {**programme, "id": "00000000-0000-0000-0000-0000000000a2", "school_year": year}
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/programmes", [old, new])
    portal.api.on("GET", "/pairing/suggestions", {
        "form": "teacher-student", "form_title": "Учитель – ученик", "paired": 0, "mentees": 0,
        "groups": [], "unmatched": []})
    portal.api.on("GET", f"/pairing/organisations/{SCHOOL['id']}/pool", {"mentors": [], "mentees": []})
    client = portal.client()

    page = client.get(f"/organisations/{SCHOOL['id']}/pairing").text
    assert f"Программа: форма «Учитель – ученик», {year}" in page and "Это программа" not in page
    page = client.get(f"/organisations/{SCHOOL['id']}/pairing?programme={old['id']}").text
    assert f"Это программа {start - 1}-{start} учебного года, а идёт {year}" in page
