"""The portal in a real browser against the real system: curator, municipality, region, auditor.
The curator's year from an empty school is walked in test_curator_journey.py."""

from __future__ import annotations

import io
import re
import time
from datetime import date, timedelta
from typing import Any

import pyotp
from docx import Document
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from services.portal.auth import DEMO_PASSWORD
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.localtime import local_today
from tests.conftest import wait_until
from tests.e2e.portal.helpers import System, main_menu, reload_until, shot, sign_in, submit_report, xlsx

SCHOOL_1 = "demo/m-berezovsky/school-1"
SCHOOL_2 = "demo/m-berezovsky/school-2"
SCHOOL_3 = "demo/m-berezovsky/school-3"


def test_curator_of_one_school_never_sees_another_schools_people(page: Page, system: System) -> None:
    other = system.organisation(SCHOOL_2)
    with system.api(Role.CURATOR, SCHOOL_2) as api:  # officials see children by label only
        others = api.get(f"/registry/organisations/{other['id']}/people").json()
    names = [p["full_name"] for p in others]
    assert len(names) >= 10
    victim = others[0]["id"]
    sign_in(page, system, "curator-school-1")
    today = local_today().isoformat()
    with system.api() as api:
        # school 2's own pair (a pair with a mentor of school 1 would be school 1's to see too)
        their_pair = next(p for p in api.get("/pairing/pairs", params={"organisation_id": other["id"]}).json()
                          if not p["cross_organisation"])
        their_draft = next(iter(api.get("/documents/reports", params={"under": SCHOOL_2}).json()), None)
    pair_url = f"/pairs/{their_pair['id']}"
    urls = [f"/organisations/{other['id']}", f"/organisations/{other['id']}?role=mentee&q=",
            f"/organisations/{other['id']}/import", f"/organisations/{other['id']}/documents",
            f"/organisations/{other['id']}/roadmap", f"/people/{victim}",
            f"/organisations/{other['id']}/worklist", f"/organisations/{other['id']}/programmes",
            f"/organisations/{other['id']}/people/new?role=mentor", f"/people/{victim}/withdraw",
            f"/organisations/{other['id']}/surveys", f"/organisations/{other['id']}/reports",
            f"/surveys/quality-curator?respondent={other['id']}", f"{pair_url}/dissolve",
            f"{pair_url}/surveys/quality-mentor?stage=quality&respondent={their_pair['mentor_id']}",
            *([f"/reports/{their_draft['id']}/submit"] if their_draft else []),
            f"/dashboard?org={SCHOOL_2}", f"/dashboard/export.xlsx?org={SCHOOL_2}",
            f"/dashboard?as_of={today}&org={SCHOOL_2}", f"/auditor/trail?record={victim}",
            "/dashboard?org=demo/m-berezovsky", "/dashboard?org=demo"]
    for url in urls:
        response = page.goto(system.url + url)
        assert response is not None and response.status in (403, 404, 422), (url, response.status)
        content = page.content()
        assert not any(name in content for name in names), url
        assert "Нет доступа" in content or "Не найдено" in content or "Не получилось" in content, url
    shot(page, "06-other-school-refused")
    # the partial the search box asks for, with htmx's headers
    partial = page.request.get(f"{system.url}/organisations/{other['id']}",
                               headers={"HX-Request": "true", "HX-Target": "people"})
    assert partial.status == 403 and not any(n in partial.text() for n in names)
    # writes are refused too, and change nothing
    refused = page.request.post(f"{system.url}/people/{victim}/withdraw",
                                form={"reason": "чужой участник"}, max_redirects=0)
    assert refused.status in (403, 404)
    for url, form in ((f"{pair_url}/dissolve", {"reason": "чужая пара"}), (f"{pair_url}/complete", {}),
                      (f"/surveys/quality-curator?respondent={other['id']}", {"q_overall": "1"}),
                      (f"/organisations/{other['id']}/people/new?role=mentee",
                       {"last_name": "Чужой", "first_name": "Иван", "birth_date": "2013-01-01",
                        "category": "student", "grade": "7", "consent_given_by": "guardian",
                        "guardian_name": "Чужая Анна Ивановна"}),
                      (f"/organisations/{other['id']}/programmes",
                       {"form": "Ученик – ученик", "school_year": "2026-2027", "curator": "Чужой"}),
                      (f"/people/{victim}/consent-form",
                       {"signatory_position": "Директор", "signatory_name": "Чужой Иван Иванович"}),
                      (f"/organisations/{other['id']}/curator-order",
                       {"school_year": "2026-2027", "curator_name": "Чужой Иван Иванович",
                        "curator_position": "учитель", "signatory_position": "Директор",
                        "signatory_name": "Чужой Иван Иванович"})):
        refused = page.request.post(system.url + url, form=form, max_redirects=0)
        assert refused.status in (403, 404), url
    upload = page.request.post(f"{system.url}/organisations/{other['id']}/import",
                               multipart={"role": "mentee", "file": {
                                   "name": "x.xlsx", "mimeType": "application/octet-stream",
                                   "buffer": xlsx([["Чужой Иван Иванович", "01.01.2013", "обучающийся",
                                                    7, "", "Чужая Анна", "да", "да"]])}})
    assert upload.status == 403
    with system.api() as api:
        assert api.get(f"/pairing/pairs/{their_pair['id']}").json()["status"] == their_pair["status"]
        assert api.get(f"/registry/people/{victim}").json()["withdrawn"] is False
        after = api.get(f"/registry/organisations/{other['id']}/people").json()
        assert len(after) == len(others)


def figure(page: Page, metric: str) -> int:
    return int(re.sub(r"\D", "", page.locator(f'[data-metric="{metric}"]').inner_text()))


def test_municipal_user_sees_figures_move_drills_down_and_exports(page: Page, system: System) -> None:
    sign_in(page, system, "municipal-berezovsky")
    expect(page).to_have_url(f"{system.url}/dashboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Берёзовский")
    before = figure(page, "mentees")
    assert before > 0
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator('[data-kpi="students_mentees"]')).to_contain_text("%")
    expect(page.locator("table.kpis")).to_contain_text("70,0 %")  # the federal target beside the share
    shot(page, "07-municipal-dashboard")

    school = system.organisation(SCHOOL_3)
    with system.api(Role.CURATOR, SCHOOL_3) as api:
        api.post(f"/registry/organisations/{school['id']}/import", params={"role": "mentee"},
                 files={"file": ("one.xlsx", xlsx([["Новикова Дарья Сергеевна", "11.11.2014",
                                                     "обучающийся", 6, "наука", "Новиков Сергей Ильич",
                                                     "да", "да"]]))}).raise_for_status()

    def moved() -> bool:
        page.reload()
        return figure(page, "mentees") == before + 1

    wait_until(moved, timeout=30, interval=0.3, message="the municipality's mentees to grow by one")
    ranked = page.locator("table.ranked")
    expect(ranked).to_contain_text(school["name"])

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Выгрузить в XLSX").click()
    book = load_workbook(io.BytesIO(download_info.value.path().read_bytes()))
    assert book["Показатели"]["A1"].value.startswith("Берёзовский")
    kpi_rows = list(book["Показатели"].iter_rows(min_row=5, max_row=9, values_only=True))
    assert kpi_rows[0][0].startswith("Доля обучающихся 10–19 лет") and kpi_rows[0][2] == "70,0 %"
    assert any(row[1] == school["name"] for row in book["Рейтинг"].iter_rows(values_only=True))

    ranked.get_by_role("link", name=school["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(school["name"])
    expect(page.get_by_role("navigation", name="Уровни")).to_contain_text("Берёзовский")
    assert figure(page, "mentees") >= 1
    shot(page, "08-municipal-drilldown-school")

    response = page.goto(f"{system.url}/dashboard?org=demo")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Нет доступа")


def test_regional_user_drills_down_region_to_municipality_to_school(page: Page, system: System) -> None:
    sign_in(page, system, "regional")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Демонстрационная область")
    ranked = page.locator("table.ranked")
    expect(ranked.locator("tbody tr")).to_have_count(3)
    shot(page, "09-region-dashboard")
    ranked.get_by_role("link", name=re.compile("Берёзовский")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Берёзовский")
    school = system.organisation(SCHOOL_1)
    page.locator("table.ranked").get_by_role("link", name=school["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(school["name"])
    crumbs = page.get_by_role("navigation", name="Уровни")
    expect(crumbs).to_contain_text("Демонстрационная область")
    expect(crumbs).to_contain_text("Берёзовский")


def test_auditor_verifies_the_log_picks_a_past_date_and_follows_a_trail(page: Page, system: System) -> None:
    sign_in(page, system, "auditor")
    expect(page).to_have_url(f"{system.url}/auditor")
    page.get_by_role("button", name="Проверить журнал").click()
    expect(page.locator("#verify-result")).to_contain_text("Журнал цел")
    shot(page, "10-auditor-verify")

    yesterday = local_today() - timedelta(days=1)
    page.get_by_label("Дата").fill(yesterday.isoformat())
    page.get_by_role("button", name="Показать", exact=True).click()
    expect(page.locator(".asof")).to_contain_text(yesterday.strftime("%d.%m.%Y"))
    expect(page.locator(".asof")).to_contain_text("событий: 0")
    assert figure(page, "mentees") == 0

    page.go_back()
    page.get_by_label("Дата").fill(local_today().isoformat())
    page.get_by_role("button", name="Показать", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Демонстрационная область")
    assert figure(page, "mentees") > 0
    page.locator("table.ranked").get_by_role("link", name="Берёзовский муниципальный округ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Берёзовский")
    expect(page.locator(".asof")).to_be_visible()  # the date is kept while drilling down
    assert figure(page, "mentors") > 0
    shot(page, "11-auditor-as-of-today")

    page.goto(f"{system.url}/auditor")
    school = system.organisation(SCHOOL_1)
    page.get_by_label("Идентификатор записи").fill(school["id"])
    page.get_by_role("button", name="Показать след").click()
    expect(page.locator(".trail")).to_contain_text("Организация зарегистрирована")
    shot(page, "12-auditor-trail")


def test_keyboard_reaches_the_sign_in_and_focus_is_visible(page: Page, system: System) -> None:
    page.goto(f"{system.url}/login")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("name", "login")
    outline = focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    page.keyboard.type("curator-school-1")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("name", "password")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "/organisations/" in page.url


def roadmap_docx(soon: date, later: date) -> bytes:
    document = Document()
    document.add_paragraph("Дорожная карта внедрения целевой модели наставничества "
                           f"на {soon.year}-{later.year + 1} гг.")
    rows = [["№", "Мероприятие", "Срок", "Ответственный"],
            ["1.", "Назначение куратора", f"до {soon:%d.%m.%Y}", "Директор"],
            ["2.", "Формирование базы наставников", f"до {later:%d.%m.%Y}", "Куратор"]]
    table = document.add_table(rows=len(rows), cols=4)
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_curator_sees_what_is_due_on_the_roadmap_and_marks_an_item_done(page: Page, system: System) -> None:
    school = system.organisation(SCHOOL_1)
    soon = local_today() + timedelta(days=5)
    with system.api(Role.CURATOR, SCHOOL_1) as api:  # the evidence: an issued document
        order = api.post("/documents/curator-order", json={
            "org": SCHOOL_1, "organisation_name": school["name"], "school_year": "2025-2026",
            "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
            "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя"})
        order.raise_for_status()
    sign_in(page, system, "curator-school-1")
    page.get_by_role("link", name="Дорожная карта").click()
    page.get_by_label("Файл DOCX или текст").set_input_files(files=[{
        "name": "карта.docx", "mimeType": "application/octet-stream",
        "buffer": roadmap_docx(soon, soon + timedelta(days=60))}])
    page.get_by_role("button", name="Загрузить").click()
    # The parse is reviewed first (issue 22); nothing to correct here, so confirm it as read.
    page.get_by_role("button", name="Подтвердить и отслеживать").click()
    item = page.locator("tr", has_text="Назначение куратора")
    expect(item.locator(".badge.warn")).to_have_text("скоро срок")
    expect(item.locator(".next-due")).to_contain_text("через 5 дней")
    expect(page.locator(".roadmap-summary")).to_contain_text(f"{soon:%d.%m.%Y}")
    item.get_by_label("Отметить как").select_option(label="выполнено")
    item.get_by_label("Подтверждающий документ").select_option(value=order.json()["id"])
    item.get_by_role("button", name="Сохранить").click()
    expect(item.locator(".badge.ok")).to_have_text("выполнено")
    expect(page.locator("#roadmap-live")).to_contain_text("«Назначение куратора» — выполнено")
    expect(item.get_by_role("button", name="Сохранить")).to_be_focused()  # keyboard users stay put
    expect(page.locator(".roadmap-summary")).not_to_contain_text(f"{soon:%d.%m.%Y}")
    shot(page, "24-roadmap-item-done")


def test_without_a_valid_session_every_page_asks_to_sign_in(page: Page, system: System) -> None:
    school = system.organisation(SCHOOL_1)
    response = page.goto(f"{system.url}/organisations/{school['id']}")
    assert response is not None
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход в систему")
    # a token signed with another secret is no session at all
    forged = issue_token(Actor(user="x", role=Role.REGIONAL, scope=OrgPath.parse("demo")),
                         "not-the-deployment-secret-at-all")
    page.context.add_cookies([{"name": "nastavnik_session", "value": forged, "url": system.url}])
    page.goto(f"{system.url}/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard"))
    cookie = next(c for c in _signed_in_cookies(page, system) if c["name"] == "nastavnik_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def _signed_in_cookies(page: Page, system: System) -> list[Any]:
    sign_in(page, system, "regional")
    return list(page.context.cookies())


# --- surveys, the reporting calendar, the end of a pair ------------------------------------------

MUNICIPALITY = "demo/m-berezovsky"


def answer_every_question(page: Page, score: str) -> None:
    for group in page.locator("fieldset.scale").all():
        group.get_by_label(score, exact=True).check()


def test_curator_submits_a_due_report_and_the_municipality_sees_it_submitted(
        page: Page, system: System) -> None:
    sign_in(page, system, "curator-school-1")
    main_menu(page, "Отчётность")
    late = page.locator("table.due tbody tr.overdue")
    # the calendar's ReportDue makes the draft in the documents service
    reload_until(page, lambda: late.get_by_role("link").count() > 0, "the overdue report's draft")
    report_id = late.first.get_attribute("data-report")
    assert report_id and SCHOOL_1 in report_id
    shot(page, "19-reports-due")
    submit_report(page, late.first, "Охват наставничеством вырос\nНужны наставники-выпускники")
    expect(page.locator(f'table.due tr[data-report="{report_id}"]')).to_have_count(0)
    expect(page.locator(f'table.others tr[data-report="{report_id}"] .badge.ok')).to_have_text("сдан")
    shot(page, "20-report-submitted")

    # ReportSubmitted reaches the monitoring calendar over the bus: no longer late there either
    with system.api(Role.MUNICIPAL, MUNICIPALITY) as api:
        wait_until(lambda: report_id not in {r["report_id"] for r in
                                             api.get("/monitoring/reports/overdue").json()},
                   timeout=30, interval=0.3, message="the calendar to hear of the submission")
    sign_in(page, system, "municipal-berezovsky")
    main_menu(page, "Отчётность")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Берёзовский")
    submitted = page.locator(f'table.below tr[data-report="{report_id}"]')
    expect(submitted.locator(".badge.ok")).to_have_text("сдан")
    expect(submitted.get_by_role("link", name=re.compile("PDF"))).to_be_visible()
    expect(page.locator(f'table.late tr[data-report="{report_id}"]')).to_have_count(0)
    expect(page.locator("table.late")).to_contain_text(system.organisation(SCHOOL_2)["name"])
    shot(page, "21-municipality-reports")


def form_pairs(api: Any, school: dict[str, Any], count: int) -> list[str]:
    """Pairs of the school's own participants, through the pairing API (the board is tested above)."""
    programme = api.get(f"/registry/organisations/{school['id']}/programmes").json()[0]
    pool = api.get(f"/pairing/organisations/{school['id']}/pool").json()
    mentees = [m["id"] for m in pool["mentees"] if m["in_pool"]][:count]
    room = {m["id"]: m["capacity"] - m["load"] for m in pool["mentors"] if not m["withdrawn"]}
    formed: list[str] = []
    for mentee in mentees:
        for mentor in [m for m, free in room.items() if free > 0]:
            answer = api.post("/pairing/pairs", json={"programme_id": programme["id"], "mentor_id": mentor,
                                                      "mentee_ids": [mentee]})
            if answer.status_code == 201:  # else a category the programme's form does not take
                formed.append(str(answer.json()["id"]))
                room[mentor] -= 1
                break
    assert len(formed) == count, "the school has too few free participants for the test"
    return formed


def test_curator_completes_a_pair_fills_its_survey_and_dissolves_another(page: Page, system: System) -> None:
    school = system.organisation(SCHOOL_2)
    today = local_today().isoformat()
    with system.api(Role.CURATOR, SCHOOL_2) as api:
        finishing, leaving = form_pairs(api, school, 2)
        for kind in ("intro", "trial", "planning"):
            api.post(f"/pairing/pairs/{finishing}/meetings", json={
                "kind": kind, "date": today, "duration_minutes": 45,
                "missing_feedback_reason": "Отзывы собраны на бумаге"}).raise_for_status()
    sign_in(page, system, "curator-school-2")
    page.goto(f"{system.url}/pairs/{finishing}")
    page.get_by_role("link", name="Завершить работу пары…").click()
    expect(page.get_by_role("alert")).to_contain_text("только после итоговой встречи")
    page.get_by_role("link", name="Вернуться к паре").click()
    page.get_by_label("Вид встречи").select_option(label="итоговая встреча")
    # Nobody answered about the planning meeting: the form says so and asks why.
    expect(page.locator("#feedback-missing")).to_contain_text(
        "Нет обратной связи по встрече № 3 от наставника и наставляемого")
    page.get_by_label("Причина отсутствия обратной связи").fill("Отзывы собраны на бумаге")
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.locator("ol.meetings > li").last).to_contain_text("итоговая встреча")
    expect(page.locator("ol.meetings > li").nth(2)).to_contain_text(
        "Причина отсутствия обратной связи: Отзывы собраны на бумаге")
    page.get_by_role("link", name="Завершить работу пары…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Завершить работу пары?")
    shot(page, "22-pair-complete-confirm")
    page.get_by_role("button", name="Да, завершить работу пары").click()
    expect(page.locator(".success")).to_contain_text("Работа пары завершена")
    expect(page.locator("dl.card")).to_contain_text("завершена")
    expect(page.get_by_role("link", name="Завершить работу пары…")).to_have_count(0)

    # the pair's work is over: the mentor's quality questionnaire is due, filled in from here
    mentor_row = page.locator('tr[data-survey="quality-mentor"]')
    expect(mentor_row.locator(".badge.bad")).to_have_text("не заполнена")
    mentor_row.get_by_role("link").click()
    answer_every_question(page, "8")
    page.get_by_role("button", name="Сохранить анкету").click()
    expect(page.locator(".success")).to_contain_text("Анкета сохранена")
    reload_until(page, lambda: page.locator('tr[data-survey="quality-mentor"] .badge.ok').count() == 1,
                 "the mentor's answer to be counted")
    shot(page, "23-pair-completed-survey")

    page.goto(f"{system.url}/pairs/{leaving}")
    page.get_by_role("link", name="Расформировать пару…").click()
    page.get_by_label("Причина расформирования").fill("Наставляемый перешёл в другую школу")
    page.get_by_role("button", name="Расформировать пару").click()
    expect(page.locator(".success")).to_contain_text("Пара расформирована")
    expect(page.locator("dl.card")).to_contain_text("Наставляемый перешёл в другую школу")
    with system.api(Role.CURATOR, SCHOOL_2) as api:
        assert api.get(f"/pairing/pairs/{finishing}").json()["status"] == "completed"
        assert api.get(f"/pairing/pairs/{leaving}").json()["status"] == "dissolved"


def test_a_new_auditor_sets_up_the_authenticator_then_signs_in_with_its_code(
        page: Page, system: System) -> None:
    password = "окно-лимон-трамвай-сорок"
    with system.api() as api:
        api.post("/auth/accounts", json={"login": "auditor-e2e", "password": password,
                                         "role": "auditor", "scope": "demo"}).raise_for_status()
    page.goto(f"{system.url}/login")
    page.get_by_label("Логин").fill("auditor-e2e")
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    # No second factor yet: the password leads only to setting one up (QR code and the key).
    expect(page.get_by_role("heading", level=1)).to_have_text("Подключите второй фактор")
    expect(page.locator("figure.qr svg")).to_be_visible()
    shot(page, "48-totp-enrolment")
    totp = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text())
    page.get_by_label("Код из приложения").fill(totp.now())
    page.get_by_role("button", name="Подключить").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Второй фактор подключён")
    codes = page.get_by_role("list", name="Резервные коды").locator("li")
    expect(codes).to_have_count(10)
    page.get_by_role("link", name="Продолжить").click()
    expect(page).to_have_url(f"{system.url}/auditor")
    page.get_by_role("button", name="Выйти").click()

    # From now on: the password, then the code (the next one: the set-up spent the current).
    page.get_by_label("Логин").fill("auditor-e2e")
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход: код подтверждения")
    page.get_by_label("Код из приложения").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Подтвердить").click()
    expect(page.get_by_role("alert")).to_contain_text("Неверный или уже использованный код")
    page.get_by_label("Код из приложения").fill(totp.at(time.time() + totp.interval))
    page.get_by_role("button", name="Подтвердить").click()
    expect(page).to_have_url(f"{system.url}/auditor")
