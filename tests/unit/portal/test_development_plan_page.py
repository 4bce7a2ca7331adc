"""The pair page offers the pair's development plan as a document: the curator's click issues it
(numbered by the documents service, from the goals as pairing has them) and downloads it."""

from __future__ import annotations

import datetime

from services.portal.lookups import current_school_year, date_today
from tests.unit.portal.conftest import PortalUnderTest
from tests.unit.portal.test_curator_pages import MENTEE, MENTOR, PAIR, SCHOOL, worklist_api


def test_the_pair_page_offers_the_plan_in_docx_and_pdf(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}/meetings/1/feedback", [])
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        "id": PAIR, "organisation_id": SCHOOL["id"], "path": SCHOOL["path"], "status": "active",
        "form": "student-student", "mentor_id": MENTOR, "mentee_ids": [MENTEE], "meetings": [],
        "goals": [{"goal_id": "g", "title": "Проект", "due": None, "status": "planned"}]})
    page = portal.client().get(f"/pairs/{PAIR}")
    assert page.status_code == 200, page.text
    assert f'action="/pairs/{PAIR}/plan"' in page.text
    assert "Скачать план развития (DOCX)" in page.text and "Скачать план развития (PDF)" in page.text


def test_the_plan_is_issued_for_the_pairs_organisation_and_downloaded(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("POST", "/documents/development-plan", {"id": "plan-1"}, status=201)
    issued = portal.client().post(f"/pairs/{PAIR}/plan", data={
        "signatory_position": "Директор", "signatory_name": "Смирнова Ирина Петровна", "fmt": "pdf"})
    assert issued.status_code == 303 and issued.headers["location"] == "/files/plan-1/pdf"
    assert portal.api.sent("POST", "/documents/development-plan") == [{
        "org": SCHOOL["path"], "organisation_name": SCHOOL["name"], "pair_id": PAIR,
        "school_year": current_school_year(datetime.date.fromisoformat(date_today())),
        "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}]


def test_a_refusal_comes_back_to_the_pair_page_in_russian(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("POST", "/documents/development-plan", {
        "code": "PAIR_NOT_FOUND", "message": "Пара (группа) не найдена", "status": 404}, status=404)
    refused = portal.client().post(f"/pairs/{PAIR}/plan", data={
        "signatory_position": "Директор", "signatory_name": "Смирнова Ирина Петровна"})
    assert refused.status_code == 303
    assert refused.headers["location"].startswith(f"/pairs/{PAIR}?error=")
