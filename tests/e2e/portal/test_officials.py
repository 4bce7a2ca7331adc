"""The officials' and the auditor's jobs in a real browser (issue 21): a school puts a best
practice forward and the municipality publishes it; the school nominates a mentor for «Наставник
года», the municipality decides and downloads the award order, and the winner shows in the
bank; the municipality publishes a «Школа наставников» material, the mentor marks it and the
curator confirms it; the municipality keeps its roadmap with an evidence document, awards a
mentor and reads its territory's documents; the auditor follows a pair's trail in Russian; the
region decides the regional stage and keeps its reporting calendar; and every page of the
journey fits a 375 px phone screen."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import httpx
from docx import Document
from playwright.sync_api import Page, expect

from shared.auth import Role
from shared.localtime import local_today
from tests.e2e.portal.helpers import System, docx_text, shot, sign_in
from tests.e2e.portal.test_portal import form_pairs

MUNICIPALITY = "demo/m-berezovsky"
SCHOOL_1 = "demo/m-berezovsky/school-1"
PRACTICE = "Клуб «Старший друг» для пятиклассников"
MATERIAL = "Первая встреча с наставляемым"


def municipal_roadmap(soon: date, later: date) -> bytes:
    document = Document()
    document.add_paragraph("Дорожная карта муниципальной системы наставничества "
                           f"на {soon.year}-{later.year + 1} гг.")
    rows = [["№", "Мероприятие", "Срок", "Ответственный", "Ожидаемый результат"],
            ["I", "Нормативное обеспечение", "", "", ""],
            ["1.", "Положение о муниципальной системе наставничества", f"до {soon:%d.%m.%Y}",
             "Управление образования", "Приказ об утверждении положения"],
            ["II", "Методическое сопровождение", "", "", ""],
            ["2.", "Семинар для кураторов школ", f"до {later:%d.%m.%Y}", "Методический центр",
             "Программа и протокол семинара"]]
    table = document.add_table(rows=len(rows), cols=5)
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_officials_and_the_auditor_do_their_jobs_in_russian_at_any_width(page: Page, system: System) -> None:
    # --- a school puts its practice forward -----------------------------------------------------
    sign_in(page, system, "curator-school-1")
    page.get_by_role("navigation", name="Основное меню").get_by_role("link", name="Лучшие практики").click()
    page.get_by_label("Название практики").fill(PRACTICE)
    page.get_by_label("Описание: цель, участники, что сделано, результаты").fill(
        "Десятиклассники ведут пятиклассников в первый месяц: встречи раз в неделю, общий проект.")
    page.get_by_label("Форма наставничества", exact=True).select_option("Ученик – ученик")
    page.get_by_label("Темы через запятую").fill("адаптация, 5 класс")
    page.get_by_role("button", name="Направить на рассмотрение").click()
    expect(page.locator(".success")).to_contain_text("направлена на рассмотрение")
    expect(page.locator(".card")).to_contain_text("на рассмотрении")
    shot(page, "40-school-submits-practice")

    # --- and nominates its mentor for «Наставник года» --------------------------------------------
    page.get_by_role("navigation", name="Основное меню").get_by_role("link", name="Наставник года").click()
    nominee = page.locator("#mentor_id option").nth(1).inner_text()
    nominee_id = page.locator("#mentor_id option").nth(1).get_attribute("value")
    page.get_by_label("Наставник", exact=True).select_option(label=nominee)
    page.get_by_label("Обоснование: чего добился наставник и его наставляемые").fill(
        "Создала клуб «Старший друг»: сорок пятиклассников прошли адаптацию без пропусков.")
    page.get_by_role("button", name="Выдвинуть на конкурс").click()
    expect(page.locator(".success")).to_contain_text("Наставник выдвинут на конкурс")
    expect(page.locator("article.nomination", has_text=nominee)).to_contain_text("выдвинут")
    shot(page, "40a-school-nominates-mentor")
    page.get_by_role("button", name="Выйти").click()

    # --- the municipality publishes it and finds it in the bank ----------------------------------
    sign_in(page, system, "municipal-berezovsky")
    menu = page.get_by_role("navigation", name="Основное меню")
    menu.get_by_role("link", name="Лучшие практики").click()
    queued = page.locator("article.practice", has_text=PRACTICE)
    expect(queued).to_contain_text("Средняя общеобразовательная школа № 1")  # a name, not a path
    queued.get_by_label("Комментарий для организации").fill("Рекомендуем школам округа")
    shot(page, "41-municipal-reviews-practice")
    queued.get_by_role("button", name=re.compile("^Опубликовать")).click()
    expect(page.locator(".success")).to_contain_text("опубликована")
    page.get_by_label("Поиск по названию и описанию").fill("пятиклассник")
    page.get_by_role("button", name="Найти").click()
    expect(page.locator("#bank-h ~ article.practice", has_text=PRACTICE)).to_be_visible()
    shot(page, "42-practice-bank-search")

    # --- «Школа наставников»: the municipality publishes a material for its mentors ---------------
    menu.get_by_role("link", name="Школа наставников").click()
    page.get_by_text("Опубликовать материал").click()
    page.get_by_label("Форма наставничества").select_option("Ученик – ученик")
    page.get_by_label("Название материала").fill(MATERIAL)
    page.get_by_label("Содержание: что изучить и что сделать").fill(
        "Видеолекция о знакомстве с наставляемым и памятка с вопросами для первой встречи.")
    page.get_by_role("button", name="Опубликовать", exact=True).click()
    expect(page.locator(".success")).to_contain_text("Материал опубликован")
    expect(page.locator("article.material", has_text=MATERIAL)).to_be_visible()
    shot(page, "42c-municipal-publishes-training")
    # The mentor marks it completed from their own account (participants' pages are another journey).
    mentor_token = system.token(Role.PARTICIPANT, SCHOOL_1, user=str(nominee_id))
    with httpx.Client(base_url=system.url, timeout=60,
                      headers={"Authorization": f"Bearer {mentor_token}"}) as api:
        material = next(m for m in api.get("/documents/training/materials").json()
                        if m["title"] == MATERIAL)
        api.post(f"/documents/training/materials/{material['id']}/completed").raise_for_status()

    # --- «Наставник года»: the municipality shortlists, decides and issues the award order --------
    menu.get_by_role("link", name="Наставник года").click()
    nomination = page.locator("article.nomination", has_text=nominee)
    expect(nomination).to_contain_text("Средняя общеобразовательная школа № 1")
    expect(nomination).to_contain_text("сорок пятиклассников")
    nomination.get_by_role("button", name=re.compile("^В короткий список")).click()
    expect(page.locator(".success")).to_contain_text("включено в короткий список")
    expect(nomination).to_contain_text("в коротком списке муниципалитета")
    nomination.get_by_label("Комментарий к решению").fill("Лучший результат округа")
    nomination.get_by_role("button", name=re.compile("^Признать победителем")).click()
    expect(nomination).to_contain_text("победитель муниципального этапа")
    page.locator("#nomination-position").fill("Начальник управления образования")
    page.locator("#nomination-name").fill("Орлова Анна Петровна")
    shot(page, "42a-municipal-decides-nomination")
    page.get_by_role("button", name="Сформировать приказ о награждении").click()
    expect(page.locator(".success")).to_contain_text("Приказ о поощрении сформирован")
    with page.expect_download() as download:
        page.locator("table.documents tbody tr").first.get_by_role("link", name=re.compile("DOCX")).click()
    order = docx_text(download.value.path())
    assert nominee in order and "победитель муниципального этапа конкурса «Наставник года»" in order
    menu.get_by_role("link", name="Лучшие практики").click()
    winner = page.locator("article.winner", has_text=nominee)
    expect(winner).to_contain_text("победитель муниципального этапа")
    shot(page, "42b-winner-in-practice-bank")

    # --- an award order for a school's mentor, downloaded -------------------------------------------
    school = system.organisation(SCHOOL_1)
    with system.api(Role.CURATOR, SCHOOL_1) as api:  # a school's document beside the municipality's
        api.post("/documents/curator-order", json={
            "org": SCHOOL_1, "organisation_name": school["name"], "school_year": "2025-2026",
            "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
            "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя"}).raise_for_status()
    menu.get_by_role("link", name="Документы").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Документы")
    page.get_by_role("link", name="Приказ о поощрении или благодарственное письмо").click()
    page.get_by_label("Организация, наставников которой поощряете").select_option(label=school["name"])
    page.get_by_role("button", name="Показать наставников").click()
    mentor = page.locator("#mentor-0 option").nth(1)
    mentor_name = mentor.inner_text().split(" — ")[0]
    page.locator("#mentor-0").select_option(index=1)
    page.locator("#merit-0").fill("за создание клуба «Старший друг»")
    page.get_by_label("Учебный год").fill("2025-2026")
    page.locator("#order-position").fill("Начальник управления образования")
    page.locator("#order-name").fill("Орлова Анна Петровна")
    shot(page, "43-award-order-form")
    page.get_by_role("button", name="Сформировать приказ").click()
    expect(page.locator(".success")).to_contain_text("Приказ о поощрении сформирован")
    rows = page.locator("table.documents tbody tr")
    expect(rows.first).to_contain_text("Берёзовский")  # the organisation column names the issuer
    expect(rows.first.locator("code.copyable")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))  # for the trail
    with page.expect_download() as download:
        rows.first.get_by_role("link", name=re.compile("DOCX")).click()
    assert mentor_name.split()[0] in docx_text(download.value.path())
    issuers = page.locator("#org option").all_inner_texts()[1:]  # after «все организации»
    assert school["name"] in issuers and "Берёзовский муниципальный округ" in issuers, issuers
    page.get_by_label("Организация").select_option(label=school["name"])
    page.get_by_role("button", name="Показать").click()
    names = page.locator("table.documents tbody tr td:first-child").all_inner_texts()
    assert names and set(names) == {school["name"]}, names
    shot(page, "44-territory-documents-filtered")

    # --- the municipality's roadmap: from the menu, sections and results, its own evidence -------
    soon = local_today() + timedelta(days=5)
    menu.get_by_role("link", name="Дорожная карта").click()
    page.get_by_label("Файл DOCX или текст").set_input_files(files=[{
        "name": "карта.docx", "mimeType": "application/octet-stream",
        "buffer": municipal_roadmap(soon, soon + timedelta(days=60))}])
    page.get_by_role("button", name="Загрузить").click()
    # The parse is reviewed first (issue 22); nothing to correct here, so confirm it as read.
    page.get_by_role("button", name="Подтвердить и отслеживать").click()
    table = page.locator("table.roadmap-items")
    expect(table.locator("tr.section").first).to_have_text("I. Нормативное обеспечение")
    expect(table.locator("thead")).to_contain_text("Ожидаемый результат")
    item = table.locator("tr", has_text="Положение о муниципальной системе")
    expect(item).to_contain_text("Приказ об утверждении положения")
    evidence = item.get_by_label("Подтверждающий документ")
    offered = evidence.locator("option").all_inner_texts()
    assert any("поощрении" in text for text in offered), offered
    with system.api(Role.REGIONAL) as api:  # every document offered is the municipality's own
        own = {d["id"] for d in api.get("/documents", params={"under": MUNICIPALITY}).json()
               if d["path"] == MUNICIPALITY}
    assert set(evidence.locator("option").evaluate_all("os => os.map(o => o.value)")) - {""} <= own
    item.get_by_label("Отметить как").select_option(label="выполнено")
    evidence.select_option(index=1)
    item.get_by_role("button", name="Сохранить").click()
    expect(item.locator(".badge.ok")).to_have_text("выполнено")
    shot(page, "45-municipal-roadmap")
    page.get_by_role("button", name="Выйти").click()

    # --- the school's curator confirms the mentor's training: a figure of the catalogue ----------
    sign_in(page, system, "curator-school-1")
    page.get_by_role("navigation", name="Основное меню").get_by_role("link", name="Школа наставников").click()
    waiting = page.locator("form.completion", has_text=nominee)
    expect(waiting).to_contain_text(MATERIAL)
    waiting.get_by_role("button", name=re.compile("^Подтвердить")).click()
    expect(page.locator(".success")).to_contain_text("Прохождение обучения подтверждено")
    expect(page.locator("form.completion", has_text=nominee)).to_have_count(0)
    shot(page, "45a-curator-confirms-training")
    page.get_by_role("navigation", name="Основное меню").get_by_role("link", name="Мониторинг").click()
    expect(page.locator("main")).to_contain_text("Доля наставников, прошедших обучение в «Школе наставников»")
    page.get_by_role("button", name="Выйти").click()

    # --- the auditor follows a pair's trail in Russian ------------------------------------------
    with system.api(Role.CURATOR, SCHOOL_1) as api:
        pair = form_pairs(api, school, 1)[0]
        api.post(f"/pairing/pairs/{pair}/meetings", json={
            "kind": "intro", "date": local_today().isoformat(), "duration_minutes": 45,
            "format": "in_person"}).raise_for_status()
    sign_in(page, system, "auditor")
    expect(page.get_by_label("Территория или организация")).to_contain_text("Берёзовский")
    page.get_by_label("Идентификатор записи").fill(pair)
    page.get_by_role("button", name="Показать след").click()
    trail = page.locator(".trail")
    expect(trail).to_contain_text("Пара сформирована")
    expect(trail).not_to_contain_text("PairFormed")
    today = f"{local_today():%d.%m.%Y}"
    expect(trail).to_contain_text(f"Встреча № 1 (знакомство) проведена {today}, очно, 45 мин.")
    when = trail.locator("time").first.inner_text()
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", when), when
    expect(page.locator(".record-id code")).to_have_text(pair)
    shot(page, "46-auditor-trail-russian")
    page.context.clear_cookies()

    # --- the region decides the regional stage and keeps its reporting calendar ------------------
    sign_in(page, system, "regional")
    menu = page.get_by_role("navigation", name="Основное меню")
    menu.get_by_role("link", name="Наставник года").click()
    finalist = page.locator("article.nomination", has_text=nominee)
    expect(finalist).to_contain_text("победитель муниципального этапа")
    finalist.get_by_role("button", name=re.compile("^Признать победителем")).click()
    expect(page.locator("article.nomination", has_text=nominee)).to_contain_text(
        "победитель регионального этапа")
    menu.get_by_role("link", name="Отчётность").click()
    page.get_by_role("link", name=re.compile("^Календарь отчётности")).click()
    deadlines = page.get_by_label("Сроки отчётов (ДД.ММ через запятую)").first
    expect(deadlines).to_have_value(re.compile(r"^\d\d\.\d\d(, \d\d\.\d\d)*$"))
    page.get_by_role("button", name="Сохранить календарь").click()
    expect(page.locator(".success")).to_contain_text("Календарь отчётности сохранён")
    shot(page, "46a-regional-calendar")
    menu.get_by_role("link", name="Формы наставничества").click()
    page.get_by_label("Описание для региона").first.fill("Старшеклассники помогают младшим")
    page.get_by_role("button", name="Сохранить каталог").click()
    expect(page.locator(".success")).to_contain_text("Каталог форм сохранён")
    expect(page.get_by_label("Описание для региона").first).to_have_value("Старшеклассники помогают младшим")
    shot(page, "46b-regional-forms")
    page.context.clear_cookies()

    # --- every page of the journey fits a phone ---------------------------------------------------
    phone_pages = {
        "auditor": ["/auditor", f"/auditor/trail?record={pair}", "/dashboard",
                    f"/dashboard?org={MUNICIPALITY}", "/practices", "/territory/documents", "/nominations"],
        "municipal-berezovsky": ["/dashboard", "/practices", "/territory/documents", "/awards",
                                 f"/awards?org={SCHOOL_1}", "/roadmap", "/reports", "/reports/upward",
                                 "/nominations", "/training"],
        "regional": ["/nominations", "/calendar", "/training", "/forms"]}
    for login, urls in phone_pages.items():
        page.set_viewport_size({"width": 1280, "height": 900})
        sign_in(page, system, login)
        page.set_viewport_size({"width": 375, "height": 800})
        for url in urls:
            page.goto(f"{system.url}{url}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{login} {url}: {width} px wide"
        shot(page, f"47-{login}-375px")
        page.context.clear_cookies()
