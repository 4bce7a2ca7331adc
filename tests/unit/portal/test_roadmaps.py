"""The roadmap page: due dates, the next deadline, what is late or due soon, and a curator marking
an item in progress or done through the documents service's ``PUT .../items/{item}``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from services.portal.pages import roadmaps
from services.portal.pages.roadmaps import days_phrase, deadline_counts, item_view, roadmap_view
from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest

TODAY = date(2025, 10, 1)
SCHOOL = {"id": "00000000-0000-0000-0000-00000000000a", "path": "demo/m1/school-1", "name": "Школа № 1",
          "kind": "school", "parent_id": None}
RID = "00000000-0000-0000-0000-0000000000e1"
DOC = {"id": "00000000-0000-0000-0000-0000000000d0", "number": "12", "date": "2025-09-20",
       "title": "Приказ о назначении куратора", "kind": "curator_order"}


def item(item_id: str, activity: str, due: list[str], status: str = "planned",
         **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "number": item_id, "activity": activity, "deadline_text": "срок",
            "due_dates": due, "status": status, "responsible": "Куратор", "continuous": False,
            "evidence_document_id": None, **extra}


def roadmap() -> dict[str, Any]:
    return {"id": RID, "path": SCHOOL["path"], "title": "Дорожная карта на 2025-2026 учебный год",
            "period": {"start": "2025-09-01", "end": "2026-08-31"}, "source_name": "карта.docx",
            "items": [item("1", "Назначение куратора", ["2025-09-15"]),
                      item("2", "Формирование базы наставников", ["2025-10-10"], "in_progress"),
                      item("3", "Мониторинг программы", ["2025-09-30", "2026-05-31"]),
                      item("4", "Приказ о программе", ["2025-09-05"], "done", evidence_document_id=DOC["id"]),
                      item("5", "Консультации", [], continuous=True)]}


def test_days_are_said_in_russian() -> None:
    assert [days_phrase(n) for n in (0, 1, 2, 5, 11, 21, 22, 112)] == [
        "сегодня", "завтра", "через 2 дня", "через 5 дней", "через 11 дней", "через 21 день",
        "через 22 дня", "через 112 дней"]


def test_items_read_late_or_due_soon_from_their_dates() -> None:
    view = roadmap_view(roadmap(), TODAY)
    by_id = {i["id"]: i for i in view["items"]}
    assert by_id["1"]["late"] and by_id["1"]["late_since"] == date(2025, 9, 15)
    assert by_id["1"]["next_due"] is None
    assert by_id["2"]["soon"] and not by_id["2"]["late"] and by_id["2"]["days_left"] == 9
    # past its first due date: late, as the service will mark it, though a later date is ahead
    assert by_id["3"]["late"] and by_id["3"]["next_due"] == date(2026, 5, 31)
    assert not by_id["4"]["late"] and by_id["4"]["next_due"] is None
    assert not by_id["5"]["late"] and not by_id["5"]["soon"]
    assert view["next_due"] == date(2025, 10, 10) and [i["id"] for i in view["next_items"]] == ["2"]
    assert (view["late"], view["soon"], view["done"]) == (2, 1, 1)
    assert item_view(item("9", "x", ["2025-10-16"]), TODAY)["soon"] is False  # 15 days ahead
    assert item_view(item("9", "x", ["2025-10-15"]), TODAY)["soon"] is True
    assert item_view(item("9", "x", ["2026-01-01"], "overdue"), TODAY)["late"]  # the service said so
    # An annual item whose first year is done is not late: its next year is what is due.
    annual = item_view(item("10", "Отчёт", ["2025-09-30", "2026-05-31"], due_statuses=[
        {"due_date": "2025-09-30", "status": "done", "evidence_document_id": DOC["id"]},
        {"due_date": "2026-05-31", "status": "planned", "evidence_document_id": None}]), TODAY)
    assert not annual["late"] and annual["next_due"] == date(2026, 5, 31)
    missed = item_view(item("11", "Отчёт", ["2025-09-30", "2026-05-31"], due_statuses=[
        {"due_date": "2025-09-30", "status": "planned", "evidence_document_id": None},
        {"due_date": "2026-05-31", "status": "done", "evidence_document_id": DOC["id"]}]), TODAY)
    assert missed["late"] and missed["late_since"] == date(2025, 9, 30) and missed["next_due"] is None
    # «Выполнено» counts each year of a recurring item: one year done of two shows, the item stays open.
    assert deadline_counts([annual, item_view(item("12", "Приказ", [], "done"), TODAY)]) == {
        "deadlines": 3, "deadlines_done": 2}


@pytest.fixture
def school(portal: PortalUnderTest, monkeypatch: pytest.MonkeyPatch) -> PortalUnderTest:
    monkeypatch.setattr(roadmaps, "date_today", TODAY.isoformat)
    state = roadmap()

    def put(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["status"] == "done" and not body["evidence_document_id"]:
            return httpx.Response(422, json={"code": "EVIDENCE_REQUIRED", "message": (
                "Отметить мероприятие выполненным можно только с подтверждающим документом")})
        found = next(i for i in state["items"] if i["id"] == request.url.path.rsplit("/", 1)[1])
        found.update(status=body["status"], evidence_document_id=body["evidence_document_id"])
        return httpx.Response(200, json=found)

    api = portal.api
    api.on("GET", f"/registry/organisations/{SCHOOL['id']}", SCHOOL)
    api.on("GET", "/documents/roadmaps", [{k: v for k, v in state.items() if k != "items"}])
    api.on("GET", f"/documents/roadmaps/{RID}", state)
    api.on("GET", "/documents", [DOC])
    api.answers[("PUT", f"/documents/roadmaps/{RID}/items/2")] = put
    api.answers[("PUT", f"/documents/roadmaps/{RID}/items/1")] = put
    return portal


PAGE = f"/organisations/{SCHOOL['id']}/roadmap"
HTMX = {"HX-Request": "true"}


def row(html: str, item_id: str) -> str:
    start = html.index(f'id="item-{RID}-{item_id}"')
    return html[start:html.index("</tr>", start)]


def test_the_page_shows_due_dates_the_next_deadline_and_what_is_late(school: PortalUnderTest) -> None:
    page = school.client().get(PAGE)
    assert page.status_code == 200
    html = page.text
    assert "Ближайший срок" in html and "10.10.2025" in html and "через 9 дней" in html
    assert '<dd data-count="late">2</dd>' in html and '<dd data-count="soon">1</dd>' in html
    assert 'class="overdue"' in row(html, "1") and "просрочено" in row(html, "1")
    assert "срок был 15.09.2025" in row(html, "1")
    assert 'class="soon"' in row(html, "2") and "скоро срок" in row(html, "2")
    assert ">30.09.2025</time>, <time datetime=\"2026-05-31\">31.05.2026</time>" in row(html, "3")
    assert "постоянно" in row(html, "5")
    assert item_view(item("9", "x", ["2025-09-15"], deadline_text="до 15.09.2025"), TODAY)["dates_said"]
    done = row(html, "4")
    assert "выполнено" in done and f'href="/files/{DOC["id"]}/pdf"' in done and "№ 12" in done
    # a done item can still be corrected: its form shows what is recorded
    assert '<option value="done" selected>' in done and f'<option value="{DOC["id"]}" selected>' in done
    form = row(html, "2")
    key = f"{RID}-2"
    assert f'<label id="l-st-{key}" for="st-{key}">Отметить как</label>' in form
    assert f'aria-labelledby="l-st-{key} act-{key}"' in form and f'<td id="act-{key}">' in form
    assert f'hx-post="{PAGE}/{RID}/items/2"' in form and f'hx-target="#roadmap-{RID}"' in form
    assert '<option value="done" selected>' in form  # in progress: next comes done
    assert f'<option value="{DOC["id"]}">№ 12 от 20.09.2025' in form
    assert 'role="status" aria-live="polite"' in html
    assert "style=" not in html and "<script>" not in html  # the CSP allows neither

    auditor = school.client(Role.AUDITOR, "demo").get(PAGE)
    assert auditor.status_code == 200 and "<form" not in auditor.text.split("<main", 1)[1]
    assert "просрочено" in auditor.text


def test_htmx_marks_an_item_done_and_gets_the_section_back(school: PortalUnderTest) -> None:
    answer = school.client().post(f"{PAGE}/{RID}/items/2", headers=HTMX,
                                  data={"status": "done", "evidence_document_id": DOC["id"]})
    assert answer.status_code == 200
    assert school.api.sent("PUT", f"/documents/roadmaps/{RID}/items/2") == [
        {"status": "done", "evidence_document_id": DOC["id"]}]
    html = answer.text
    assert "<html" not in html and html.strip().startswith(f'<section id="roadmap-{RID}"')
    assert '<div id="roadmap-live" hx-swap-oob="innerHTML">' in html
    assert "Сохранено: «Формирование базы наставников» — выполнено." in html
    assert "badge ok" in row(html, "2") and f'<option value="{DOC["id"]}" selected>' in row(html, "2")
    assert f'id="save-{RID}-2"' in row(html, "2")  # the same id: htmx keeps the focus on the button

    started = school.client().post(f"{PAGE}/{RID}/items/1", headers=HTMX, data={"status": "in_progress"})
    assert started.status_code == 200
    assert school.api.sent("PUT", f"/documents/roadmaps/{RID}/items/1") == [
        {"status": "in_progress", "evidence_document_id": None}]
    assert "выполняется" in row(started.text, "1") and "просрочено" in row(started.text, "1")


def test_done_without_evidence_is_refused_beside_the_item(school: PortalUnderTest) -> None:
    answer = school.client().post(f"{PAGE}/{RID}/items/1", headers=HTMX,
                                  data={"status": "done", "evidence_document_id": ""})
    assert answer.status_code == 422
    refused = row(answer.text, "1")
    assert 'role="alert"' in refused and "только с подтверждающим документом" in refused
    assert 'aria-invalid="true"' in refused and '<option value="done" selected>' in refused
    assert '<div id="roadmap-live" hx-swap-oob="innerHTML"></div>' in answer.text


def test_without_script_the_form_posts_and_the_page_says_what_was_saved(school: PortalUnderTest) -> None:
    client = school.client()
    answer = client.post(f"{PAGE}/{RID}/items/2", data={"status": "done", "evidence_document_id": DOC["id"]})
    assert answer.status_code == 303 and answer.headers["location"] == f"{PAGE}?saved=2&roadmap={RID}"
    page = client.get(answer.headers["location"])
    assert "Сохранено: «Формирование базы наставников» — выполнено." in page.text
    refused = client.post(f"{PAGE}/{RID}/items/1", data={"status": "done"})
    assert refused.status_code == 303 and "error=" in refused.headers["location"]


def test_a_roadmap_of_another_organisation_is_not_changed_from_this_page(school: PortalUnderTest) -> None:
    other = {**roadmap(), "path": "demo/m1/school-2"}
    school.api.on("GET", f"/documents/roadmaps/{RID}", other)
    answer = school.client().post(f"{PAGE}/{RID}/items/2", headers=HTMX, data={"status": "in_progress"})
    assert answer.status_code == 404
    assert school.api.sent("PUT", f"/documents/roadmaps/{RID}/items/2") == []
    bad = school.client().post(f"{PAGE}/{RID}/items/2", data={"status": "overdue"})
    assert bad.status_code == 422 and "Состояние" in bad.text


def test_each_deadline_of_a_recurring_item_shows_its_own_mark(school: PortalUnderTest) -> None:
    state = roadmap()
    state["items"][2]["due_statuses"] = [
        {"due_date": "2025-09-30", "status": "done", "evidence_document_id": DOC["id"]},
        {"due_date": "2026-05-31", "status": "planned", "evidence_document_id": None}]
    school.api.on("GET", f"/documents/roadmaps/{RID}", state)
    html = school.client().get(PAGE).text
    annual = row(html, "3")
    assert "30.09.2025</time> — выполнено" in annual and "подтверждение № 12" in annual
    assert "31.05.2026</time> — запланировано" in annual
    # one of its two deadlines done: the count of deadlines says so, the item stays open
    assert '<dd data-count="done">1 из 5</dd>' in html
    assert '<dd data-count="deadlines-done">2 из 6</dd>' in html
