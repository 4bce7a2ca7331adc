"""The worklist's pairs: asked for once for every section, a confirmed pair's mentor from
another organisation named with it, and the lists that fail when the pairing service is down;
the embedded portal's calls to the APIs in-process."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.portal.runtime import api_transport
from tests.unit.portal.conftest import PortalUnderTest
from tests.unit.portal.test_curator_pages import MENTEE, PAIR, SCHOOL, section, worklist_api

ELSEWHERE = "00000000-0000-0000-0000-0000000001ee"


def test_the_worklist_lists_pairs_once_and_names_a_confirmed_partners_mentor(
        portal: PortalUnderTest) -> None:
    worklist_api(portal)
    pair = {"id": PAIR, "organisation_id": SCHOOL["id"], "mentor_id": ELSEWHERE,
            "mentee_ids": [MENTEE], "status": "active", "form": "student-student", "meetings": 1,
            "path": SCHOOL["path"], "cross_organisation": True}
    portal.api.on("GET", "/pairing/pairs", [pair])
    portal.api.on("GET", "/pairing/reminders", [
        {**pair, "idle_days": 40, "code": "NO_MEETINGS", "message": "Нет встреч 40 дн."}])
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {**pair, "meetings": [
        {"number": 1, "kind": "intro", "date": "2026-10-01", "feedback_from": ["mentor"]}]})
    portal.api.on("GET", "/registry/paired-mentors", {"pairs": {PAIR: {
        "mentor_id": ELSEWHERE, "full_name": "Петров Пётр Петрович",
        "organisation_name": "ООО «Завод»"}}})
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/worklist").text
    title = "Петров Пётр Петрович (ООО «Завод») — Абрамова Ева Игоревна"
    assert title in section(page, "inactive") and title in section(page, "feedback")
    assert len([c for c in portal.api.calls if c.url.path == "/pairing/pairs"]) == 1
    # The school reports for itself: no list of every organisation is needed (the header's
    # own name, read once, is all the registry's list is asked for).
    assert all(c.url.params.get("under") == SCHOOL["path"] for c in portal.api.calls
               if c.url.path == "/registry/organisations")


def test_without_the_pairing_service_its_sections_say_so(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("GET", "/pairing/pairs", {"code": "PAIRING_UNAVAILABLE", "message": "нет"},
                  status=503)
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/worklist")
    assert page.status_code == 200
    assert "сервис не ответил" in section(page.text, "feedback")
    assert "сервис не ответил" in section(page.text, "surveys")
    assert "/reports/d1/submit" in section(page.text, "reports")


def test_the_embedded_portal_calls_its_own_application_and_gets_failures_as_answers(
        monkeypatch: object) -> None:
    app = FastAPI()

    @app.get("/registry/broken")
    def broken() -> None:
        raise RuntimeError("сломано")

    @app.get("/registry/fine")
    def fine() -> dict[str, str]:
        return {"ok": "да"}

    async def ask() -> tuple[int, int]:
        async with httpx.AsyncClient(base_url="http://127.0.0.1:1",
                                     transport=api_transport(app)) as client:
            return ((await client.get("/registry/fine")).status_code,
                    (await client.get("/registry/broken")).status_code)

    assert asyncio.run(ask()) == (200, 500)
    monkeypatch.setenv("NASTAVNIK_PORTAL_API_URL", "http://gateway")  # type: ignore[attr-defined]
    assert api_transport(app) is None


def test_the_summary_counts_the_mentees_waiting_not_the_lines_about_them(
        portal: PortalUnderTest) -> None:
    worklist_api(portal)
    waiting = [{"id": f"00000000-0000-0000-0000-0000000002{i:02d}", "in_pool": True,
                "consent": "self", "withdrawn": False} for i in range(14)]
    portal.api.on("GET", f"/pairing/organisations/{SCHOOL['id']}/pool", {
        "mentors": [], "mentees": waiting})
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/worklist").text
    assert '<span class="value">14</span> <span class="label">ждут пару</span>' in page
    assert "14 наставляемых без пары" in section(page, "pool")


def test_with_no_pair_at_work_the_pair_sections_say_so_rather_than_all_is_well(
        portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("GET", "/pairing/pairs", [{
        "id": PAIR, "organisation_id": SCHOOL["id"], "mentor_id": ELSEWHERE, "mentee_ids": [MENTEE],
        "status": "completed", "form": "student-student", "meetings": 9, "path": SCHOOL["path"]}])
    portal.api.on("GET", "/pairing/reminders", [])
    page = portal.client().get(f"/organisations/{SCHOOL['id']}/worklist").text
    for key in ("inactive", "feedback"):
        assert "Действующих пар нет" in section(page, key)
