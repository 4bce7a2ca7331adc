"""The officials' and auditors' pages (issue 21): the trail told in Russian, charts people read,
the roadmap's sections and evidence, best practices, award documents and a territory's documents."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import httpx

from services.portal.charts import distinct_labels, every_month, month_label, short_name
from services.portal.pages.auditor import territory_choices
from services.portal.pages.awards import award_rows, with_organisations
from services.portal.pages.dashboards import ranked_by_kind, ranking_charts
from services.portal.pages.practices import split_tags
from services.portal.pages.report_upward import period_choices
from services.portal.pages.roadmaps import roadmap_view
from services.portal.routes import router
from services.portal.trail_text import EVENT_TITLES, describe, local_time, trail_lines
from shared import periods
from shared.auth import Role
from shared.errors import DomainError
from shared.events import CATALOGUE
from shared.localtime import local_today
from tests.unit.portal.conftest import PortalUnderTest

REGION = {"id": "r", "path": "demo", "name": "Демонстрационная область", "kind": "region", "parent_id": None}
MUNICIPALITY = {"id": "m", "path": "demo/m1", "name": "Первый округ", "kind": "municipality",
                "parent_id": "r"}
SCHOOL_5 = {"id": "00000000-0000-0000-0000-000000000005", "path": "demo/m1/school-5",
            "name": "МБОУ «Средняя общеобразовательная школа № 5»", "kind": "school", "parent_id": "m"}
SCHOOL_12 = {"id": "00000000-0000-0000-0000-000000000012", "path": "demo/m1/school-12",
             "name": "МБОУ «Средняя общеобразовательная школа № 12»", "kind": "school", "parent_id": "m"}
PAIR = "5b3a3c3e-0000-4000-8000-000000000001"


# --- the audit trail in Russian ---------------------------------------------------------------

def test_every_event_of_the_catalogue_has_a_russian_name() -> None:
    assert sorted(CATALOGUE) == sorted(EVENT_TITLES)
    assert EVENT_TITLES["PairFormed"] == "Пара сформирована"


def test_times_are_moscow_time_in_russian_format_without_microseconds() -> None:
    assert local_time("2025-10-12T21:05:07.123456Z") == "13.10.2025 00:05"
    assert local_time("2025-10-12T11:05:07") == "12.10.2025 14:05"  # the log keeps UTC
    assert local_time(None) == "—"


def test_a_meeting_is_described_in_words() -> None:
    assert describe("MeetingHeld", {"kind": "regular", "date": "2025-10-12", "format": "in_person",
                                     "duration_minutes": 45, "number": 3}) == \
        "Встреча № 3 (регулярная) проведена 12.10.2025, очно, 45 мин."
    assert describe("PairCompleted", {"meetings": 5}) == "Проведено 5 встреч."
    assert describe("PairFormed", {"form": "Ученик – ученик", "mentee_ids": ["a", "b"]}) == \
        "Форма «Ученик – ученик», группа, наставляемых 2."
    assert describe("ProgrammeLaunched", {"form": "student-student", "school_year": "2025-2026"}) == \
        "Форма «Ученик – ученик», 2025-2026 учебный год."
    assert describe("UnknownEvent", {"x": 1}) == ""


def entry(position: int, kind: str, at: str, user: str = "curator-1", role: str = "curator",
          payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"position": position, "type": kind, "occurred_at": at, "org": "demo/m1/school-5",
            "relation": "mentioned", "aggregate_id": PAIR, "payload": payload or {},
            "actor": {"user": user, "role": role, "scope": "demo/m1/school-5"}}


def test_personal_data_accesses_of_one_day_fold_into_one_line() -> None:
    accesses = [entry(i, "PersonalDataAccessed", f"2025-10-12T{8 + i:02d}:00:00Z", user=f"u{i % 2}",
                      payload={"person_ids": ["p"], "purpose": "просмотр базы"}) for i in range(5)]
    lines = trail_lines([entry(0, "PairFormed", "2025-10-11T09:00:00Z"), *accesses,
                         entry(9, "PersonalDataAccessed", "2025-10-13T09:00:00Z")],
                        {"demo/m1/school-5": "Школа № 5"})
    assert [(line.title, line.count) for line in lines] == [
        ("Пара сформирована", 1), ("Просмотр персональных данных", 5), ("Просмотр персональных данных", 1)]
    assert lines[1].users == ["u0", "u1"] and "за день: 5" in lines[1].description
    assert lines[0].role == "Куратор образовательной организации" and lines[0].org == "Школа № 5"


def test_the_trail_page_speaks_russian_and_shows_the_record_id(portal: PortalUnderTest) -> None:
    meeting = {"kind": "intro", "date": "2025-10-12", "format": "online", "duration_minutes": 30, "number": 1}
    portal.api.on("GET", f"/audit/trail/{PAIR}",
                  [entry(1, "MeetingHeld", "2025-10-12T09:00:00.123456Z", payload=meeting)])
    portal.api.on("GET", "/registry/organisations", [REGION, MUNICIPALITY, SCHOOL_5])
    page = portal.client(Role.AUDITOR, "demo").get("/auditor/trail", params={"record": PAIR})
    assert page.status_code == 200
    assert "Встреча проведена" in page.text and "12.10.2025 12:00" in page.text
    assert "MeetingHeld" not in page.text and ".123456" not in page.text
    assert f'data-copy="{PAIR}"' in page.text
    refused = portal.client(Role.AUDITOR, "demo").get("/auditor/trail", params={"record": "demo/m1"})
    assert refused.status_code == 422 and "Неверный идентификатор" in refused.text
    # Issue 18, Low: a path in the id was forwarded to other API routes (500); only ids pass.
    for record in ("../../registry/organisations", f"{PAIR}/../../registry/organisations",
                   "%2e%2e%2fregistry"):
        sneaked = portal.client(Role.AUDITOR, "demo").get("/auditor/trail", params={"record": record})
        assert sneaked.status_code in (404, 422), sneaked.text[:300]


def test_territories_are_chosen_from_a_list_each_under_its_parent() -> None:
    choices = territory_choices([SCHOOL_5, MUNICIPALITY, REGION])
    assert [(c["path"], c["depth"]) for c in choices] == [
        ("demo", 0), ("demo/m1", 1), ("demo/m1/school-5", 2)]


# --- charts -------------------------------------------------------------------------------------

def test_months_are_russian_and_empty_months_count_as_zero() -> None:
    assert month_label("2025-09") == "сентябрь 2025" and month_label("2026-01") == "январь 2026"
    filled = every_month([{"month": "2025-11", "meetings": 4}, {"month": "2026-02", "meetings": 1}])
    assert [(m["month"], m["meetings"]) for m in filled] == [
        ("2025-11", 4), ("2025-12", 0), ("2026-01", 0), ("2026-02", 1)]


def test_labels_tell_schools_apart() -> None:
    assert short_name(SCHOOL_5["name"]) == "СОШ № 5"
    assert short_name("АО «Завод точной механики»") == "Завод точной механики"
    assert distinct_labels([SCHOOL_5["name"], SCHOOL_12["name"]]) == ["СОШ № 5", "СОШ № 12"]
    # Two that would read alike keep their full names.
    twins = ["МБОУ «Гимназия № 1»", "МАОУ «Гимназия № 1»"]
    assert distinct_labels(twins) == twins


def unit(org: dict[str, Any], value: float | None, mentees: int) -> dict[str, Any]:
    return {**org, "figures": {"mentees": mentees}, "late": 0,
            "kpi": None if value is None else {"value": value, "suppressed": False}}


def test_units_are_ranked_among_their_kind_by_the_share_the_chart_draws() -> None:
    factory = {"id": "f", "path": "demo/m1/employer-1", "name": "АО «Завод точной механики»",
               "kind": "employer", "parent_id": "m"}
    rows = ranked_by_kind([unit(factory, 0.9, 50), unit(SCHOOL_5, 0.1, 40), unit(SCHOOL_12, 0.3, 2)])
    assert [(r["group"], r["place"], r["label"]) for r in rows] == [
        ("Школы", 1, "СОШ № 12"), ("Школы", 2, "СОШ № 5"), ("Предприятия", 1, "Завод точной механики")]
    charts = dict(ranking_charts(rows))
    assert set(charts) == {"Школы", "Предприятия"}
    no_kpi = ranked_by_kind([{**unit(factory, None, 5)}, unit(SCHOOL_5, 0.02155, 3)])
    assert [r["share"] for r in no_kpi] == [2.2, 0.0]  # rounded half up, as monitoring does
    assert [group for group, _ in ranking_charts(no_kpi)] == ["Школы"]
    assert "30\u202f%" in charts["Школы"] and ">40<" not in charts["Школы"]  # the share, not mentees
    # a unit without the KPI reads «—» on its bar, as in the table beside the chart
    mixed = ranked_by_kind([unit(SCHOOL_5, None, 3), {**unit(SCHOOL_12, 0.25, 4),
                                                      "kpi": {"value": 0.25, "display": "25,0 %"}}])
    chart = dict(ranking_charts(mixed))["Школы"]
    assert 'class="chart-value">25,0 %<' in chart and 'class="chart-value">—<' in chart


# --- roadmaps --------------------------------------------------------------------------------

def test_a_roadmap_keeps_its_sections_and_expected_results() -> None:
    items = [{"id": "1", "section": "1. Подготовка", "activity": "Приказ", "result": "Приказ издан",
              "status": "planned", "due_dates": []},
             {"id": "2", "section": "1. Подготовка", "activity": "Куратор", "status": "planned",
              "due_dates": []},
             {"id": "3", "section": "2. Формирование базы", "activity": "База", "status": "planned",
              "due_dates": []}]
    view = roadmap_view({"id": "r", "items": items}, datetime.date(2025, 9, 1))
    assert [(heading, [i["id"] for i in group]) for heading, group in view["sections"]] == [
        ("1. Подготовка", ["1", "2"]), ("2. Формирование базы", ["3"])]
    assert view["has_results"]


ROADMAP_ID = "00000000-0000-0000-0000-0000000000aa"


def municipal_roadmap_api(portal: PortalUnderTest) -> str:
    """The municipality's one roadmap (one item in a section); its page's address."""
    roadmap = {"id": ROADMAP_ID, "path": MUNICIPALITY["path"], "title": "Карта",
               "period": {"start": "2025-09-01", "end": "2026-08-31"},
               "items": [{"id": "1", "section": "Раздел I", "activity": "Совещание", "result": "Протокол",
                          "status": "planned", "deadline_text": "сентябрь", "due_dates": []}]}
    municipality = {**MUNICIPALITY, "id": "00000000-0000-0000-0000-0000000000bb"}
    portal.api.on("GET", f"/registry/organisations/{municipality['id']}", municipality)
    portal.api.on("GET", "/documents/roadmaps", [roadmap])
    portal.api.on("GET", f"/documents/roadmaps/{roadmap['id']}", roadmap)
    return f"/organisations/{municipality['id']}/roadmap"


def test_the_evidence_offered_is_the_roadmaps_own_organisations(portal: PortalUnderTest) -> None:
    url = municipal_roadmap_api(portal)
    portal.api.on("GET", "/documents", [
        {"id": "d1", "path": "demo/m1", "number": "1-од", "date": "2025-09-01", "title": "Приказ округа"},
        {"id": "d2", "path": "demo/m1/school-5", "number": "7", "date": "2025-09-02",
         "title": "Приказ школы"}])
    page = portal.client(Role.MUNICIPAL, "demo/m1").get(url)
    assert page.status_code == 200
    assert "Приказ округа" in page.text and "Приказ школы" not in page.text
    assert "Раздел I" in page.text and "Ожидаемый результат" in page.text and "Протокол" in page.text
    assert 'class="table-scroll"' in page.text


def test_the_menu_leads_officials_to_their_own_roadmap(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [REGION, MUNICIPALITY])
    answer = portal.client(Role.MUNICIPAL, "demo/m1").get("/roadmap")
    assert answer.status_code == 303 and answer.headers["location"] == "/organisations/m/roadmap"


# --- best practices -------------------------------------------------------------------------

def test_tags_are_split_trimmed_and_once_each() -> None:
    assert split_tags("Адаптация, олимпиады;  адаптация,, ") == ["адаптация", "олимпиады"]


def test_a_school_submits_and_the_municipality_publishes(portal: PortalUnderTest) -> None:
    practice = {"id": "00000000-0000-0000-0000-0000000000cc", "path": SCHOOL_5["path"], "title": "Клуб",
                "description": "Клуб наставников для пятиклассников", "form": "Ученик – ученик",
                "tags": ["адаптация"], "status": "submitted", "comment": ""}
    portal.api.on("POST", "/documents/practices", practice, status=201)
    portal.api.on("GET", "/documents/practices", [practice])
    portal.api.on("GET", "/documents/nominations/winners", [])
    portal.api.on("GET", "/registry/organisations", [MUNICIPALITY, SCHOOL_5])
    school = portal.client(Role.CURATOR, SCHOOL_5["path"])
    sent = school.post("/practices", data={"practice_title": "Клуб", "description": practice["description"],
                                           "form": "Ученик – ученик", "tags": "Адаптация, 5 класс"})
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"/practices/{practice['id']}")
    assert portal.api.sent("POST", "/documents/practices")[0] == {
        "org": SCHOOL_5["path"], "title": "Клуб", "description": practice["description"],
        "form": "Ученик – ученик", "tags": ["адаптация", "5 класс"]}

    municipal = portal.client(Role.MUNICIPAL, "demo/m1")
    queue = municipal.get("/practices")
    assert "На рассмотрении" in queue.text and "Опубликовать" in queue.text and SCHOOL_5["name"] in queue.text
    review = f"/documents/practices/{practice['id']}/review"
    portal.api.on("POST", review, {**practice, "status": "published"})
    done = municipal.post(f"/practices/{practice['id']}/review",
                          data={"decision": "publish", "comment": " ок "})
    assert done.status_code == 303
    assert portal.api.sent("POST", review) == [
        {"decision": "publish", "comment": "ок"}]


def test_the_bank_is_searched_with_the_users_words(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/practices", [])
    portal.api.on("GET", "/documents/nominations/winners", [])
    portal.api.on("GET", "/registry/organisations", [])
    page = portal.client(Role.AUDITOR, "demo").get("/practices", params={"q": "клуб", "tag": "адаптация"})
    assert page.status_code == 200 and "По запросу ничего не найдено" in page.text
    searched = [c for c in portal.api.calls if c.url.path == "/documents/practices"]
    assert [dict(c.url.params) for c in searched] == [{"q": "клуб", "tag": "адаптация"}]


# --- documents and awards ------------------------------------------------------------------------

def test_a_territorys_documents_name_their_organisation_and_filter_by_it() -> None:
    documents = [{"id": "1", "path": "demo/m1/school-5", "date": "2025-09-01", "number": "1"},
                 {"id": "2", "path": "demo/m1", "date": "2025-10-01", "number": "2"}]
    listed = with_organisations(documents, [MUNICIPALITY, SCHOOL_5], None)
    assert [(d["id"], d["organisation"]) for d in listed] == [("2", "Первый округ"), ("1", SCHOOL_5["name"])]
    assert [d["id"] for d in with_organisations(documents, [], "demo/m1/school-5")] == ["1"]


def test_award_rows_need_a_merit_and_default_the_award() -> None:
    mentor = "00000000-0000-0000-0000-0000000000dd"
    assert award_rows([mentor, ""], ["за клуб", ""], ["", ""]) == [
        {"mentor_id": mentor, "merit": "за клуб", "award": "объявить благодарность"}]
    for bad in (([""], [""], [""]), ([mentor], [""], [""]), (["x"], ["за клуб"], [""])):
        try:
            award_rows(*bad)
        except DomainError as exc:
            assert exc.status == 422
        else:
            raise AssertionError(bad)


def test_the_award_order_is_issued_by_the_municipality(portal: PortalUnderTest) -> None:
    mentor = "00000000-0000-0000-0000-0000000000dd"
    portal.api.on("GET", "/registry/organisations", [REGION, MUNICIPALITY])
    portal.api.on("POST", "/documents/award-order", {"id": "doc"}, status=201)
    answer = portal.client(Role.MUNICIPAL, "demo/m1").post("/awards/order", data={
        "school_year": "2025-2026", "signatory_position": "Начальник управления",
        "signatory_name": "Орлова Анна Петровна", "mentor_id": [mentor, ""], "merit": ["за клуб", ""],
        "award": ["наградить грамотой", ""]})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/territory/documents?issued=award_order"
    body = portal.api.sent("POST", "/documents/award-order")[0]
    assert body["org"] == "demo/m1" and body["organisation_name"] == "Первый округ"
    assert body["parent_organisation"] == REGION["name"]
    assert body["awards"] == [{"mentor_id": mentor, "merit": "за клуб", "award": "наградить грамотой"}]


def test_a_service_refusal_of_an_award_shows_its_russian_message(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [REGION, MUNICIPALITY])
    portal.api.answers[("POST", "/documents/thanks-letter")] = lambda _: httpx.Response(
        403, json={"code": "FORBIDDEN", "message": "Недостаточно прав"})
    answer = portal.client(Role.MUNICIPAL, "demo/m1").post("/awards/thanks-letter", data={
        "signatory_position": "Начальник", "signatory_name": "Орлова Анна", "addressee": "ООО «Партнёр»",
        "text": "Благодарим за помощь в организации наставничества"})
    assert answer.status_code == 403 and "Недостаточно прав" in answer.text


def test_the_regions_report_upward_is_generated_from_its_figures(portal: PortalUnderTest) -> None:
    assert [p.code for p in period_choices(datetime.date(2026, 3, 1))] == [
        "2025/26-2", "2025/26-1", "2025/26", "2024/25-2", "2024/25-1", "2024/25"]
    assert [p.code for p in period_choices(datetime.date(2026, 11, 1))] == [
        "2026/27-1", "2026/27", "2025/26-2", "2025/26-1", "2025/26"]
    portal.api.on("GET", "/registry/organisations", [REGION, MUNICIPALITY])
    portal.api.on("POST", "/documents/report", {"id": "doc"}, status=201)
    regional = portal.client(Role.REGIONAL, "demo")
    form = regional.get("/reports/upward")
    assert form.status_code == 200 and "Отчёт в министерство" in form.text
    assert f'<option value="{periods.half_of(local_today()).code}" selected>' in form.text
    requisites = {"territory": "Демонстрационная область", "signatory_position": "Министр",
                  "signatory_name": "Белова Ольга Ивановна", "conclusions": "Охват вырос\n\n Нужны кураторы "}
    refused = regional.post("/reports/upward", data={**requisites, "period": "3-е полугодие 1999 года"})
    assert refused.status_code == 422 and "Выберите отчётный период из списка" in refused.text
    assert portal.api.sent("POST", "/documents/report") == []
    last_year = periods.Period(periods.school_year_of(local_today()).start_year - 1)
    answer = regional.post("/reports/upward", data={**requisites, "period": last_year.code})
    assert answer.status_code == 303 and answer.headers["location"] == "/territory/documents?issued=report"
    body = portal.api.sent("POST", "/documents/report")[0]
    assert body["org"] == "demo" and body["conclusions"] == ["Охват вырос", "Нужны кураторы"]
    assert body["period"] == last_year.code  # the documents service reads the period's figures
    assert body["parent_organisation"] is None  # the region reports to the ministry, not a parent


def test_no_page_of_the_portal_sits_under_an_address_of_the_api() -> None:
    """The portal and the API share one origin: a page at ``/documents`` would be the API's."""
    spec = json.loads((Path(__file__).resolve().parents[2] / "contracts" / "openapi.json").read_text())
    api_roots = {path.split("/")[1] for path in spec["paths"]}
    page_roots = {route.path.split("/")[1] for route in router.routes if hasattr(route, "path")}
    assert "documents" in api_roots and "territory" in page_roots
    assert page_roots & api_roots == set()
