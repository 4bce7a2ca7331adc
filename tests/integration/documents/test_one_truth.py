"""One truth for every figure: a school, its municipality and the region, each read through every
view — the dashboard JSON, the portal's dashboard page (its tables and its chart), the XLSX the
page exports, and the analytic report's DOCX and the PDF LibreOffice makes of it — print the same
text for every figure.

One system (registry, pairing, monitoring, documents and the portal, on a real NATS) is started
once. The data is chosen so every kind of text appears: a share with decimals, a 0/0 KPI («—»,
and «—» for «цель достигнута», never «нет»), a group too small to show («скрыто: менее 5 чел.»),
a school with more mentees than its declared contingent («нет данных: контингент нужно
обновить», never a share above 100 %), and the four pair counts named apart.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from openpyxl import load_workbook

from services.documents.runtime import DocumentsRuntime
from services.monitoring.audit.feeder import init_key
from services.monitoring.runtime import MonitoringRuntime
from services.pairing.runtime import PairingRuntime
from services.portal.auth import COOKIE
from services.portal.frame import Portal
from services.portal.runtime import PortalRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.localtime import local_today
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.integration.documents.conftest import (
    ISSUER,
    SCHOOL_A,
    SCHOOL_B,
    Clock,
    System,
    create_organisations,
    register,
)
from tests.integration.documents.reader import read_documents

MUNICIPALITY, REGION = "demo/m1", "demo"
SCHOOL_C = "demo/m2/school-c"
GUARDIAN = {"guardian_name": "Орлова Мария Ивановна"}
STALE = "нет данных: контингент нужно обновить"
HIDDEN = "скрыто: менее 5 чел."
PERIOD = "2026/27-1"
PERIOD_LABEL = "1-е полугодие 2026/27 учебного года"


@pytest.fixture
def everything(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[tuple[System, TestClient]]:
    """Every service in one app; the portal reaches their APIs in-process (no port opened)."""
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry = RegistryRuntime(settings)
    pairing = PairingRuntime(settings)
    init_key(settings, exist_ok=True)
    monitoring = MonitoringRuntime(settings, head_interval=60, calendar_interval=3600)
    documents = DocumentsRuntime(settings, today=clock, sweep_seconds=3600)
    app = create_app(settings, [registry, pairing, monitoring, documents, PortalRuntime(settings)])
    with TestClient(app) as client:
        app.state.portal = Portal(settings, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"))
        system = System(client, settings, documents, registry, clock, pairing=pairing,
                        monitoring=monitoring)
        create_organisations(system)
        portal = TestClient(app, base_url="http://portal.test", follow_redirects=False)
        token = issue_token(Actor(user="regional", role=Role.REGIONAL, scope=OrgPath.parse(REGION)),
                            settings.signing_secret)
        portal.cookies.set(COOKIE, token)
        yield system, portal


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


def contingent(system: System, code: str, **figures: int) -> None:
    body = {"school_year": "2026-2027", "students_total": 0, "students_10_19": 0,
            "students_15_19": 0, "teachers_total": 0, "young_teachers": 0, "enterprises": 0,
            **figures}
    ok(system.client.put(f"/registry/organisations/{system.ids[code]}/contingent", json=body,
                         headers=system.headers(Role.REGIONAL, REGION)))


def populate(system: System) -> None:
    # School A: 6 mentees aged 10–19 against a declared 5 (the contingent is out of date), 3
    # pupils aged 15–19 (too few to show a share), no young teachers (0/0).
    contingent(system, "school-a", students_total=40, students_10_19=5, students_15_19=3)
    contingent(system, "school-b", students_total=20, students_10_19=10, students_15_19=5)
    people = {}
    people["T1"] = register(system, "mentor", "school-a", "Петрова", "Анна", "Сергеевна", "1985-04-02")
    people["T2"] = register(system, "mentor", "school-a", "Кузнецов", "Павел", "Андреевич", "1979-02-03")
    for n, surname in enumerate(("Орлов", "Белов", "Зайцев", "Лебедев", "Волков", "Соколов"), 1):
        people[f"a{n}"] = register(system, "mentee", "school-a", surname, "Егор", "Ильич",
                                   f"2013-05-0{n}", **GUARDIAN)
    people["TB"] = register(system, "mentor", "school-b", "Смирнов", "Олег", "Петрович", "1982-06-07")
    people["b1"] = register(system, "mentee", "school-b", "Морозов", "Илья", "Романович",
                            "2012-03-01", **GUARDIAN)
    people["b2"] = register(system, "mentee", "school-b", "Новиков", "Илья", "Романович",
                            "2012-03-02", **GUARDIAN)
    programmes = {school: str(ok(system.post("/registry/programmes", {
        "organisation_id": system.ids[school.rsplit("/", 1)[-1]], "form": "учитель – ученик",
        "school_year": "2026-2027", "curator": "Куратор"}, Role.CURATOR, school))["id"])
        for school in (SCHOOL_A, SCHOOL_B)}
    system.pools_caught_up()

    def pair(school: str, mentor: str, *mentees: str) -> str:
        return str(ok(system.post("/pairing/pairs", {
            "programme_id": programmes[school], "mentor_id": people[mentor],
            "mentee_ids": [people[m] for m in mentees]}, Role.CURATOR, school))["id"])

    def meeting(school: str, pair_id: str, scores: dict[str, int]) -> None:
        number = ok(system.post(f"/pairing/pairs/{pair_id}/meetings", {
            "kind": "intro", "date": local_today().isoformat(), "duration_minutes": 45},
            Role.CURATOR, school))["number"]
        for who, satisfaction in scores.items():
            ok(system.post(f"/pairing/pairs/{pair_id}/feedback", {
                "meeting_number": number, "respondent_id": people[who],
                "satisfaction": satisfaction}, Role.CURATOR, school))

    p1 = pair(SCHOOL_A, "T1", "a1", "a2", "a3")
    p2 = pair(SCHOOL_A, "T2", "a4", "a5")
    p3 = pair(SCHOOL_A, "T2", "a6")
    p4 = pair(SCHOOL_B, "TB", "b1", "b2")
    meeting(SCHOOL_A, p1, {"T1": 9, "a1": 8, "a2": 7, "a3": 10})
    meeting(SCHOOL_A, p2, {"T2": 6, "a4": 9, "a5": 8})
    meeting(SCHOOL_B, p4, {"b1": 10})
    ok(system.post(f"/pairing/pairs/{p3}/dissolve", {"reason": "Переход в другую школу"},
                   Role.CURATOR, SCHOOL_A))
    assert p4


# --- each view read back as (label → text) ---------------------------------------------------

Shown = dict[str, tuple[str, ...]]


def from_json(board: dict[str, Any]) -> tuple[Shown, dict[str, str]]:
    kpis = {k["title"]: (k["display"], k["target_display"], k["calculation"], k["met_display"])
            for k in board["kpis"]}
    return kpis, {h["label"]: h["display"] for h in board["headline"]}


def cells(row: Any) -> list[str]:
    return [" ".join(c.text_content().split()) for c in row.xpath("./td|./th")]


def from_page(page: str) -> tuple[Shown, dict[str, str], list[str]]:
    tree = lxml_html.fromstring(page)
    kpis = {c[0]: tuple(c[1:]) for c in map(cells, tree.xpath("//table[contains(@class,'kpis')]/tbody/tr"))}
    headline = {" ".join(li.xpath(".//span[@class='label']")[0].text_content().split()):
                " ".join(li.xpath(".//span[@class='value']")[0].text_content().split())
                for li in tree.xpath("//ul[@class='figures']/li")}
    chart = [t.text_content() for t in tree.xpath("//svg[.//title[starts-with(., 'Показатели')]]"
                                                  "//*[local-name()='text'][@class='chart-value']")]
    return kpis, headline, chart


def from_xlsx(content: bytes) -> tuple[Shown, dict[str, str]]:
    sheet = load_workbook(io.BytesIO(content))["Показатели"]
    rows = [r for r in sheet.iter_rows(values_only=True) if r and r[0] and r[0] != "Период"]
    header = rows.index(("Показатель", "Значение", "Цель", "Расчёт", "Цель достигнута",
                         "Числитель", "Знаменатель"))
    numbers = rows.index(("Показатель", "Значение", "Число", None, None, None, None))
    kpis = {row[0]: tuple(str(v) for v in row[1:5]) for row in rows[header + 1:numbers]}
    headline = {row[0]: str(row[1]) for row in rows[numbers + 1:] if row[1] is not None}
    return kpis, headline


def from_docx(content: bytes) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    document = docx.Document(io.BytesIO(content))
    kpis, headline = {}, {}
    for table in document.tables:
        rows = [[c.text.strip() for c in r.cells] for r in table.rows]
        if rows[0] == ["№", "Показатель", "Значение", "Целевое значение", "Расчёт"]:
            kpis.update({r[1]: (r[2], r[3], r[4]) for r in rows[1:]})
        elif rows[0] == ["№", "Показатель", "Значение"]:
            headline.update({r[1]: r[2] for r in rows[1:]})
    return kpis, headline


def test_every_figure_reads_the_same_in_every_view(everything: tuple[System, TestClient],
                                                    tmp_path: Path) -> None:
    system, portal = everything
    populate(system)
    system.settle()
    issuers = {SCHOOL_A: (Role.CURATOR, "Школа school-a"), MUNICIPALITY: (Role.MUNICIPAL, "Округ m1"),
               REGION: (Role.REGIONAL, "Демо-регион")}
    boards, documents = {}, {}
    for scope, (role, territory) in issuers.items():
        boards[scope] = ok(system.get("/monitoring/dashboard", Role.REGIONAL, REGION, org=scope))
        issued = ok(system.post("/documents/report", {
            **ISSUER, "org": scope, "period": PERIOD, "territory": territory}, role, scope))
        documents[scope.replace("/", "-")] = system.client.get(
            issued["docx_url"], headers=system.headers(role, scope)).content
    pdf_texts = read_documents(documents, tmp_path / "pdf", tmp_path / "profile")

    # The figures the data was chosen for, worked out by hand.
    school, municipality, region = (from_json(boards[s]) for s in (SCHOOL_A, MUNICIPALITY, REGION))
    students = "Доля обучающихся 10–19 лет, вовлечённых в наставничество в роли наставляемого"
    mentors = "Доля обучающихся 15–19 лет, вовлечённых в наставничество в роли наставника"
    young = "Доля молодых педагогов (до 35 лет, стаж 0–3 года), вовлечённых в наставничество"
    assert school[0][students] == (STALE, "70,0 %", "6 из 5", "—")  # 6 mentees, 5 declared
    assert school[0][mentors] == (HIDDEN, "10,0 %", "—", "—")       # 3 pupils aged 15–19
    assert school[0][young] == ("—", "70,0 %", "—", "—")             # 0/0: not «нет»
    assert municipality[0][students] == ("53,3 %", "70,0 %", "8 из 15", "нет")
    assert municipality[0][mentors] == ("0,0 %", "10,0 %", "0 из 8", "нет")
    assert school[1]["Пары и группы: активные сейчас"] == "2"
    assert school[1]["Пары и группы: сформированы всего"] == "3"
    assert school[1]["Пары и группы: расформированы"] == "1"
    assert school[1]["Пары и группы: завершены"] == "0"
    # 5 mentees of school-a answered (8, 7, 10, 9, 8), 1 of school-b (10): school-b's mean is
    # hidden for its small group, so school-a's goes too (complementary suppression), or the
    # municipality's mean of all 6 would give school-b's away; 2 mentors: hidden.
    mentees_mean = "Удовлетворённость наставляемых встречами (средняя оценка 1–10)"
    assert school[1][mentees_mean] == HIDDEN
    assert municipality[1][mentees_mean] == "8,7"  # 52 / 6
    assert school[1]["Удовлетворённость наставников встречами (средняя оценка 1–10)"] == HIDDEN
    assert region[1]["Наставляемые"] == "8"

    for scope, board in boards.items():
        kpis, headline = from_json(board)
        page = portal.get("/dashboard", params={"org": scope})
        assert page.status_code == 200, page.text
        page_kpis, page_headline, chart = from_page(page.text)
        assert page_kpis == kpis, scope
        said = " ".join(lxml_html.fromstring(page.text).text_content().split())
        assert board["period_label"] == "2026/27 учебный год" or board["period"] is None
        assert (f"Период: {board['period_label']}" if board["period"] else "Период не определён") in said
        assert page_headline == headline, scope
        assert chart == [k["display"] for k in board["kpis"] if not k["suppressed"]], scope

        export = portal.get("/dashboard/export.xlsx", params={"org": scope})
        assert export.status_code == 200
        xlsx_kpis, xlsx_headline = from_xlsx(export.content)
        assert load_workbook(io.BytesIO(export.content))["Показатели"]["B3"].value == \
            board["period_label"]
        assert xlsx_kpis == kpis, scope
        assert xlsx_headline == headline, scope

        name = scope.replace("/", "-")
        docx_kpis, docx_headline = from_docx(documents[name])
        assert docx_kpis == {t: v[:3] for t, v in kpis.items()}, scope
        assert docx_headline == headline, scope

        text = pdf_texts[name]
        assert f"за {PERIOD_LABEL}" in text and "H2" not in text
        for n, k in enumerate(board["kpis"], 1):
            row = f"{n} {k['title']} {k['display']} {k['target_display']} {k['calculation']}"
            assert row in text, (scope, row)
        for n, (label, shown) in enumerate(headline.items(), 1):
            assert f"{n} {label} {shown}" in text, (scope, label)
        assert HIDDEN in text  # and what it means is said
        assert "значение скрыто, чтобы по нему нельзя было узнать отдельного человека" in text
