"""A curator's school year on a phone (375 px wide), in a real browser against the real system,
from a school with nobody in it to the report submitted: the base by form and by file (a bad
row refused in Russian, nothing imported), the year's programme, pairs with named partners and
the pairs order with the curator's number and date, meetings in the methodology's order with
the feedback after each, the development plan, a questionnaire, the worklist's reminders, a
consent form and a withdrawal, the due report — and addresses that lead nowhere or to another
school. Every step is photographed and no page of the walk is wider than the screen."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from services.portal.lookups import current_school_year
from shared.auth import Role
from shared.localtime import local_today
from tests.conftest import wait_until
from tests.e2e.portal.helpers import (
    MENTEE_HEADERS,
    MENTOR_HEADERS,
    System,
    another_schools_pair,
    docx_text,
    main_menu,
    new_school,
    phone,
    readable,
    reload_until,
    sign_in,
    step,
    submit_report,
    xlsx,
)

SCHOOL_2 = "demo/m-berezovsky/school-2"
SCHOOL_NAME = "МБОУ «Средняя общеобразовательная школа № 12»"
ALPHABET = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
MENTOR = "Ёлкин Артём Сергеевич"
MINOR = "Абрамова Ева Игоревна"


def letter_place(name: str) -> int:
    first = name.strip()[0].lower().replace("ё", "е")
    return ALPHABET.index(first) if first in ALPHABET else len(ALPHABET)


def test_curator_runs_a_year_from_an_empty_school_to_a_submitted_report(
        browser: Browser, system: System) -> None:
    schools_reminded_half_a_year_ahead(system)
    school = new_school(system, "school-12", SCHOOL_NAME, "curator-school-12")
    with phone(browser) as page:
        sign_in(page, system, "curator-school-12")
        base_by_form_and_file(page, system, school)
        programme_and_pairs(page, system)
        meetings_and_plan(page, system, school)
        surveys_reminders_and_consents(page, system, school)
        the_report(page)
        a_proposal_from_another_school(page, system, school)
        the_rest_of_the_menu(page, system, school)
        where_a_curator_may_not_go(page, system)


def schools_reminded_half_a_year_ahead(system: System) -> None:
    """The region reminds its schools 180 days ahead. A school registered today owes no report for
    a half that ended before it existed, so with the usual 14 days the journey would find a report
    to prepare only in the weeks before 20.12 and 31.05; now it does on any day of the year (the
    current half's report is due within 180 days, or, in June, already late)."""
    with system.api() as api:
        config = api.get("/monitoring/calendar").json()["config"]
        config.pop("region")
        config["levels"]["organisation"]["reminders"] = [180, 14, 7, 1]
        api.put("/monitoring/calendar", json=config).raise_for_status()


def base_by_form_and_file(page: Page, system: System, school: dict[str, Any]) -> None:
    # the start page is the worklist, with the school's name (not its path code) in the header
    expect(page).to_have_url(f"{system.url}/organisations/{school['id']}/worklist")
    expect(page.get_by_role("heading", name="Что требует внимания")).to_be_visible()
    expect(page.locator(".who")).to_contain_text(SCHOOL_NAME)
    for section in ("reports", "roadmap", "inactive", "feedback", "surveys", "pool", "programme"):
        expect(page.locator(f'section[data-section="{section}"]')).to_be_visible()
    expect(page.locator('section[data-section="programme"]')).to_contain_text("Нет программы")
    expect(page.get_by_role("navigation", name="Основное меню").get_by_role(
        "link", name="Мониторинг")).to_be_visible()  # the KPI dashboard
    step(page, "y01-worklist-of-an-empty-school")

    main_menu(page, "Базы участников")
    expect(page.locator("#people tbody tr")).to_have_count(0)
    page.get_by_role("link", name="Добавить наставника").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Добавить наставника")
    page.get_by_label("Фамилия").fill("Ёлкин")
    page.get_by_label(re.compile("^Имя")).fill("Артём")
    page.get_by_label("Отчество").fill("Сергеевич")
    page.get_by_label("Дата рождения").fill("1986-04-12")
    page.get_by_label("Категория").select_option(label="педагог")
    page.get_by_label("Компетенции").fill("олимпиада; адаптация; проект")
    page.get_by_label("Сколько наставляемых может вести").fill("3")
    page.get_by_role("button", name="Сохранить наставника").click()
    expect(page.locator(".success")).to_contain_text(f"добавлен наставник: {MENTOR}")
    step(page, "y02-mentor-added-by-form")

    # a minor mentee: without a guardian's consent the registry refuses, at the guardian field
    page.goto(f"{system.url}/organisations/{school['id']}/people/new?role=mentee")
    page.get_by_label("Фамилия").fill("Абрамова")
    page.get_by_label(re.compile("^Имя")).fill("Ева")
    page.get_by_label("Отчество").fill("Игоревна")
    page.get_by_label("Дата рождения").fill("2013-05-06")
    page.get_by_label("Категория").select_option(label="обучающийся")
    page.get_by_label("Класс", exact=True).fill("7")
    page.get_by_label("Запросы").fill("олимпиада; адаптация")
    page.get_by_role("button", name="Сохранить наставляемого").click()
    expect(page.get_by_role("alert")).to_contain_text("Участник не добавлен")
    guardian = page.get_by_label("ФИО законного представителя")
    expect(guardian).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Фамилия")).to_have_value("Абрамова")  # what was typed is kept
    step(page, "y03-mentee-field-error")
    page.get_by_label(re.compile("дано законным представителем")).check()
    guardian.fill("Абрамова Ольга Петровна")
    page.get_by_role("button", name="Сохранить наставляемого").click()
    expect(page.locator(".success")).to_contain_text(f"добавлен наставляемый: {MINOR}")
    expect(page.locator(".card")).to_contain_text("Абрамова Ольга Петровна")

    # the consent form, filled for the minor and their guardian, as a DOCX
    page.get_by_label("ФИО подписывающего").fill("Смирнова Ирина Петровна")
    page.get_by_role("button", name="Сформировать бланк согласия").click()
    expect(page.locator(".success")).to_contain_text("Бланк согласия сформирован", timeout=60_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="скачать DOCX").click()
    text = docx_text(str(download.value.path()))
    assert "Абрамова" in text and "Ева" in text, text[:500]
    step(page, "y04-mentee-added-consent-form")

    # a file with one bad row is refused whole, each error in Russian with its row
    page.goto(f"{system.url}/organisations/{school['id']}/import")
    page.get_by_label("наставляемых").check()
    bad = xlsx([["Неверов Пётр Ильич", "11.02.2013", "обучающийся", 7, "олимпиада",
                 "Неверова Анна Петровна", "да", "да"],
                ["Ошибкина Вера Олеговна", "12.04.2013", "космонавт", 7, "проект",
                 "Ошибкин Олег Ильич", "да", "да"]])
    upload(page, "bad.xlsx", bad)
    expect(page.get_by_role("alert")).to_contain_text("Файл не загружен")
    errors = page.locator("table.errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr td").first).to_have_text("3")
    expect(errors).to_contain_text("Категория")
    step(page, "y05-import-row-error")

    upload(page, "mentees.xlsx", xlsx([
        ["Тестова Алиса Ивановна", "05.03.2013", "обучающийся", 7, "олимпиада; проект",
         "Тестова Мария Петровна", "да", "да"],
        ["Проверкин Борис Олегович", "17.09.2012", "обучающийся", 8, "профориентация",
         "Проверкина Ольга Юрьевна", "да", "да"]]))
    expect(page.locator(".success")).to_contain_text("Загружено записей: 2")
    page.get_by_label("наставников").check()
    upload(page, "mentors.xlsx", xlsx([["Власова Нина Андреевна", "03.03.1979", "педагог",
                                        "профориентация; проект", 2, "да"]], MENTOR_HEADERS))
    expect(page.locator(".success")).to_contain_text("Загружено записей: 1")
    step(page, "y06-imported")

    # the base: nothing of the refused file, and the Russian alphabetical order («Ё» among «Е»)
    page.goto(f"{system.url}/organisations/{school['id']}")
    names = page.locator("#people tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == sorted([MENTOR, MINOR, "Тестова Алиса Ивановна", "Проверкин Борис Олегович",
                                    "Власова Нина Андреевна"]), names
    places = [letter_place(n) for n in names]
    assert places == sorted(places), names
    page.get_by_label("Поиск по ФИО").fill("Тестова")
    expect(page.locator("#people tbody tr")).to_have_count(1)
    step(page, "y07-base-searched")


def upload(page: Page, name: str, content: bytes) -> None:
    page.get_by_label("Файл (XLSX или CSV, до 10 МБ)").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": content}])
    page.get_by_role("button", name="Загрузить").click()


def programme_and_pairs(page: Page, system: System) -> None:
    # the worklist leads to the programme of the year: a form of mentorship and the school year
    page.goto(system.url + "/")
    page.locator('section[data-section="programme"]').get_by_role("link", name=re.compile(
        "Запустить программу")).click()
    year = page.get_by_label("Учебный год").input_value()
    this_year = local_today().year
    assert re.fullmatch(r"\d{4}-\d{4}", year) and int(year[:4]) in (this_year - 1, this_year)
    page.get_by_label("Форма наставничества").select_option("Учитель – ученик")
    page.get_by_label("Куратор программы").fill("Волкова Елена Викторовна")
    page.get_by_role("button", name="Запустить программу").click()
    expect(page.locator(".success")).to_contain_text("Программа запущена")
    expect(page.locator("table.programmes")).to_contain_text(year)
    step(page, "y08-programme-launched")

    # matching: the suggestions name both sides; confirmed with the order's reference
    page.locator("table.programmes").get_by_role("link", name=re.compile("Подбор пар")).click()
    # the school's own mentors fit the requests best (the same organisation counts too)
    reload_until(page, lambda: page.locator("fieldset.suggestion").filter(has_text=MENTOR).count() > 0,
                 "the pairing to learn of the new people")
    why = page.locator("fieldset.suggestion").filter(has_text=MENTOR).locator("details").first
    why.locator("summary").click()
    expect(why.locator("ul.criteria")).to_contain_text("Одна образовательная организация")
    ours = page.locator("fieldset.suggestion").filter(has_text=re.compile(f"{MENTOR}|Власова"))
    for group in page.locator("fieldset.suggestion").all():
        if "участник другой организации" in group.inner_text():
            group.locator('input[name="group"]').uncheck()
    checked = page.locator('input[name="group"]:checked').count()
    assert checked == ours.count() >= 2, checked
    expect(ours.first).to_contain_text(re.compile(f"{MINOR}|Тестова|Проверкин"))
    page.get_by_label("Номер и дата приказа", exact=True).fill("№ 15-о от 01.10.2026")
    step(page, "y09-matching")
    page.get_by_role("button", name="Утвердить отмеченные пары").click()
    expect(page.locator(".success")).to_contain_text(f"Утверждено пар и групп: {checked}")
    pairs = page.locator("table.pairs")
    expect(pairs).to_contain_text(MENTOR)
    expect(pairs).to_contain_text(MINOR)
    expect(pairs).to_contain_text("№ 15-о от 01.10.2026")
    step(page, "y10-pairs")

    # the pairs order with the curator's own number and date
    expect(page.get_by_label("Учебный год")).to_have_value(year)
    page.get_by_label("Номер приказа").fill("112-о")
    page.get_by_label("Дата приказа").fill("2026-10-02")
    page.get_by_label("ФИО подписывающего").fill("Смирнова Ирина Петровна")
    page.get_by_role("button", name="Сформировать приказ").click()
    expect(page.locator(".success")).to_contain_text("Документ сформирован", timeout=60_000)
    issued = page.locator("table.data tbody tr.issued")
    expect(issued).to_contain_text("112-о")
    expect(issued).to_contain_text("02.10.2026")
    with page.expect_download() as download:
        issued.get_by_role("link", name=re.compile("DOCX")).click()
    text = docx_text(str(download.value.path()))
    assert "112-о" in text and "02.10.2026" in text, text[:600]
    assert MENTOR in text and MINOR in text and "Власова" in text, text[:600]
    step(page, "y11-pairs-order")


def meetings_and_plan(page: Page, system: System, school: dict[str, Any]) -> None:
    page.goto(f"{system.url}/organisations/{school['id']}/pairs")
    page.locator("table.pairs").get_by_role("link", name=MENTOR).click()
    expect(page.get_by_role("heading", name="Встречи по порядку")).to_be_visible()
    # the methodology's order: the first meeting is the introduction
    page.get_by_label("Вид встречи").select_option(label="пробная встреча")
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.get_by_role("alert")).to_contain_text("Нарушен порядок встреч")
    step(page, "y12-meeting-out-of-order")
    page.get_by_label("Вид встречи").select_option(label="встреча-знакомство")
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.locator(".success")).to_contain_text("Встреча отмечена")
    expect(page.locator("ol.meetings > li")).to_have_count(1)

    # no next meeting before both sides' feedback on this one
    page.get_by_label("Вид встречи").select_option(label="пробная встреча")
    expect(page.locator("#feedback-missing")).to_contain_text("Нет обратной связи по встрече № 1")
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Нет обратной связи по встрече № 1 от наставника и наставляемого")
    expect(page.locator("ol.meetings > li")).to_have_count(1)
    step(page, "y13-meeting-before-feedback-refused")
    for side in (0, 1):
        page.get_by_label("Кто отвечает").select_option(index=side)
        page.get_by_label("Удовлетворённость (1–10)").fill("9")
        page.get_by_label("Что получилось").fill("познакомились, договорились о целях")
        page.get_by_role("button", name="Сохранить отзыв").click()
        expect(page.locator(".success")).to_contain_text("Отзыв сохранён")
    expect(page.locator("ol.meetings > li").first.locator("ul.feedback > li")).to_have_count(2)
    page.get_by_label("Вид встречи").select_option(label="пробная встреча")
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.locator("ol.meetings > li")).to_have_count(2)

    # the development plan: a goal, then the plan as a document
    page.get_by_label("Цель").fill("Подготовиться к школьному этапу олимпиады")
    page.get_by_role("button", name="Добавить цель").click()
    expect(page.locator(".success")).to_contain_text("Цель добавлена")
    expect(page.locator("ul.goals")).to_contain_text("Подготовиться к школьному этапу олимпиады")
    page.get_by_label("ФИО подписывающего").fill("Смирнова Ирина Петровна")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Скачать план развития (DOCX)").click()
    assert "Подготовиться к школьному этапу олимпиады" in docx_text(str(download.value.path()))
    step(page, "y14-meetings-and-plan")


def surveys_reminders_and_consents(page: Page, system: System, school: dict[str, Any]) -> None:
    # the curator's own questionnaire: unanswered questions named in Russian, then counted
    main_menu(page, "Анкетирование")
    row = page.locator('tr[data-survey="quality-curator"]')
    expect(row.locator(".badge.bad")).to_have_text("не заполнена")
    readable(row.locator(".badge.bad"))
    row.get_by_role("link").click()
    page.locator("form.survey").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Сохранить анкету").click()
    expect(page.get_by_role("alert")).to_contain_text("Нет ответа на обязательный вопрос")
    for group in page.locator("fieldset.scale").all():
        group.get_by_label("8", exact=True).check()
    page.get_by_role("button", name="Сохранить анкету").click()
    expect(page.locator(".success")).to_contain_text("Анкета сохранена")
    step(page, "y15-survey")

    # the reminders: a meeting of the other pair still waits for its feedback
    page.goto(f"{system.url}/organisations/{school['id']}/pairs")
    page.locator("table.pairs").get_by_role("link", name="Власова Нина Андреевна").click()
    page.get_by_role("button", name="Отметить встречу").click()
    expect(page.locator(".success")).to_contain_text("Встреча отмечена")
    page.goto(system.url + "/")
    feedback = page.locator('section[data-section="feedback"]')
    expect(feedback).to_contain_text("Власова Нина Андреевна")
    expect(feedback).to_contain_text("нет отзыва")
    expect(page.locator('section[data-section="surveys"]')).not_to_contain_text(
        "Оценка куратором качества")
    step(page, "y16-worklist-reminders")

    # a consent withdrawn: the person named first, the reason asked, a label left in the list
    page.goto(f"{system.url}/organisations/{school['id']}")
    page.get_by_role("link", name="Проверкин Борис Олегович").click()
    page.get_by_role("link", name="Отозвать согласие…").click()
    expect(page.locator(".card")).to_contain_text("Проверкин Борис Олегович")
    page.get_by_label("Причина отзыва").fill("заявление законного представителя")
    step(page, "y17-withdrawal-confirm")
    page.get_by_role("button", name=re.compile("Отозвать согласие: Проверкин")).click()
    expect(page.locator(".success")).to_contain_text("Согласие отозвано")
    page.goto(f"{system.url}/organisations/{school['id']}?consent=withdrawn")
    withdrawn = page.locator("#people tbody tr")
    expect(withdrawn).to_have_count(1)
    expect(withdrawn.first).to_contain_text("отозвано")
    expect(page.locator("#people")).not_to_contain_text("Проверкин")
    step(page, "y18-consent-withdrawn")


def the_report(page: Page) -> None:
    main_menu(page, "Отчётность")
    due = page.locator("table.due tbody tr")
    # the calendar's ReportDue makes the new school's draft in the documents service
    reload_until(page, lambda: due.get_by_role("link", name=re.compile("Подготовить и сдать")).count() > 0,
                 "the school's report draft")
    step(page, "y19-reports-due")
    report_id = due.first.get_attribute("data-report")
    submit_report(page, due.first, "Программа запущена\nСформированы первые пары")
    submitted = page.locator(f'table.others tr[data-report="{report_id}"] .badge.ok')
    expect(submitted).to_have_text("сдан")
    readable(submitted)
    step(page, "y20-report-submitted")


def a_proposal_from_another_school(page: Page, system: System, school: dict[str, Any]) -> None:
    """School 2's curator names this school's mentor for one of its pupils (over the API: the
    other school's screens are not this walk's); this curator confirms it on the pairs page."""
    with system.api(Role.CURATOR, school["path"]) as api:
        mentor = next(p["id"] for p in api.get(f"/registry/organisations/{school['id']}/people").json()
                      if p["full_name"] == "Власова Нина Андреевна")
    other = system.organisation(SCHOOL_2)
    with system.api(Role.CURATOR, SCHOOL_2) as api:
        pool = api.get(f"/pairing/organisations/{other['id']}/pool").json()
        mentee = next(m["id"] for m in pool["mentees"]
                      if m["in_pool"] and m["consent"] and m["category"] == "student")
        api.post("/pairing/pairs", json={"form": "учитель – ученик", "mentor_id": mentor,
                                         "mentee_ids": [mentee]}).raise_for_status()
    page.goto(f"{system.url}/organisations/{school['id']}/pairs")
    offers = page.locator("section.proposals").filter(
        has=page.get_by_role("heading", name="Предложения пар от других организаций"))
    expect(offers).to_contain_text("Власова Нина Андреевна")
    offers.get_by_role("button", name="Подтвердить").click()
    expect(page.locator(".success")).to_contain_text("Пара подтверждена")
    page.locator("table.pairs tbody tr").filter(has_text="участник другой организации").get_by_role(
        "link", name="Власова Нина Андреевна").click()
    expect(page.locator(".card")).to_contain_text(other["name"])
    step(page, "y21-cross-school-pair-confirmed")


def the_rest_of_the_menu(page: Page, system: System, school: dict[str, Any]) -> None:
    """The pages of the curator's menu and sections the walk has not opened yet, on the same phone."""
    for name, url in (("roadmap", f"/organisations/{school['id']}/roadmap"), ("surveys", "/surveys"),
                      ("dashboard", "/dashboard"), ("account", "/account")):
        page.goto(system.url + url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        step(page, f"y22-{name}")


def where_a_curator_may_not_go(page: Page, system: System) -> None:
    # another school's pair, by its address: a Russian page, nothing of the pair
    response = page.goto(f"{system.url}/pairs/{another_schools_pair(system, SCHOOL_2)}")
    assert response is not None and response.status in (403, 404)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Нет доступа|Не найдено"))
    expect(page.locator("main")).not_to_contain_text("Встречи по порядку")
    step(page, "y23-another-schools-pair")
    # an address that leads nowhere and a malformed id: Russian pages, not the APIs' JSON
    for url in ("/no-such-page", "/people/not-an-id"):
        response = page.goto(system.url + url)
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Не найдено")
        expect(page.get_by_role("link", name="На главную")).to_be_visible()
    step(page, "y24-not-found")


# --- participants: a minor's guardian and a mentor, each signed in with the curator's code ------

PASSWORD = "окно-лимон-трамвай-сорок"


def a_pair_with_a_meeting(system: System, school: dict[str, Any]) -> tuple[str, str, str]:
    """The curator's side, over the API (walked in the browser above): a mentor and a minor
    mentee, the year's programme, their pair and its first meeting."""
    with system.api(Role.CURATOR, school["path"]) as api:
        def imported(role: str, rows: list[list[Any]], headers: list[str]) -> str:
            answer = api.post(f"/registry/organisations/{school['id']}/import", params={"role": role},
                              files={"file": (f"{role}.xlsx", xlsx(rows, headers))})
            answer.raise_for_status()
            return str(answer.json()["ids"][0])

        mentor = imported("mentor", [["Громов Илья Петрович", "14.08.1981", "педагог", "физика", 1, "да"]],
                          MENTOR_HEADERS)
        mentee = imported("mentee", [["Белова Ксения Андреевна", "09.01.2014", "обучающийся", 6,
                                      "физика", "Белова Анна Сергеевна", "да", "да"]], MENTEE_HEADERS)
        programme = api.post("/registry/programmes", json={
            "organisation_id": school["id"], "form": "Учитель – ученик",
            "school_year": current_school_year(local_today()), "curator": "Кузнецова Мария Ивановна"})
        programme.raise_for_status()
        formed: list[str] = []

        def pair() -> bool:
            answer = api.post("/pairing/pairs", json={"programme_id": programme.json()["id"],
                                                      "mentor_id": mentor, "mentee_ids": [mentee]})
            # the pairing learns of the new people from the registry's events a moment later
            assert answer.status_code in (201, 404), answer.text
            formed.extend([str(answer.json()["id"])] if answer.status_code == 201 else [])
            return bool(formed)

        wait_until(pair, timeout=30, interval=0.3, message="the pair to be formed")
        api.post(f"/pairing/pairs/{formed[0]}/meetings", json={
            "kind": "intro", "date": local_today().isoformat(), "duration_minutes": 45}).raise_for_status()
    return mentor, mentee, formed[0]


def invitation_code(page: Page, system: System, person_id: str, name: str) -> str:
    page.goto(f"{system.url}/people/{person_id}")
    page.get_by_role("button", name="Выдать код приглашения").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Код приглашения выдан")
    step(page, f"p01-invitation-{name}")
    return page.locator(".code code").inner_text().strip()


def accept(page: Page, system: System, code: str, login: str) -> None:
    page.goto(f"{system.url}/login")
    page.get_by_role("link", name="У меня есть код приглашения").click()
    page.get_by_label("Код приглашения").fill(code)
    page.get_by_label("Придумайте логин").fill(login)
    page.get_by_label("Придумайте пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(f"{system.url}/my")
    expect(page.get_by_role("heading", level=1)).to_have_text("Мои пары")


def give_feedback(page: Page, score: str, went_well: str) -> None:
    page.get_by_label("Удовлетворённость (1–10)").fill(score)
    page.get_by_label("Что получилось").fill(went_well)
    page.get_by_role("button", name="Отправить отзыв о встрече № 1").click()
    expect(page.locator(".success")).to_contain_text("Отзыв сохранён")


def test_a_guardian_and_a_mentor_sign_in_with_codes_and_answer_for_themselves(
        browser: Browser, system: System) -> None:
    school = new_school(system, "school-13", "МБОУ «Лицей № 13»", "curator-school-13")
    mentor, mentee, _ = a_pair_with_a_meeting(system, school)
    with phone(browser) as curator:
        sign_in(curator, system, "curator-school-13")
        guardian_code = invitation_code(curator, system, mentee, "guardian")
        # a minor's code is the guardian's: they act for the child
        expect(curator.locator(".card")).to_contain_text(
            "Для законного представителя участника «Белова Ксения Андреевна» (Белова Анна Сергеевна)")
        mentor_code = invitation_code(curator, system, mentor, "mentor")

    with phone(browser) as guardian:
        accept(guardian, system, guardian_code, "belova-guardian")
        # the guardian is told they act for the child, and whose pair it is
        expect(guardian.get_by_text("законный представитель наставляемого")).to_be_visible()
        expect(guardian.locator("section.card")).to_contain_text("Пара наставляемого")
        expect(guardian.locator("section.card")).to_contain_text(school["name"])
        step(guardian, "p02-guardian-my-pair")
        give_feedback(guardian, "9", "Разобрали задачи олимпиады")
        step(guardian, "p03-guardian-feedback")

    with phone(browser) as page:
        accept(page, system, mentor_code, "gromov-mentor")
        meeting = page.locator("ol.meetings > li").first
        # the reveal rule: the mentee's answer stays hidden until the mentor has given theirs
        expect(meeting).not_to_contain_text("Разобрали задачи олимпиады")
        expect(meeting).not_to_contain_text("Наставляемый:")
        step(page, "p04-mentor-before-own-feedback")
        give_feedback(page, "8", "Ксения готова к олимпиаде")
        meeting = page.locator("ol.meetings > li").first
        expect(meeting).to_contain_text("Наставляемый: 9 из 10")
        expect(meeting).to_contain_text("Разобрали задачи олимпиады")
        step(page, "p05-mentor-sees-both")

        # another school's pair, by its address and by a forged form: refused, in Russian
        theirs = another_schools_pair(system, SCHOOL_2)
        response = page.goto(f"{system.url}/pairs/{theirs}")
        assert response is not None and response.status in (403, 404)
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Нет доступа|Не найдено"))
        step(page, "p06-participant-refused")
        forged = page.request.post(f"{system.url}/my/pairs/{theirs}/feedback", max_redirects=0,
                                   form={"meeting_number": "1", "satisfaction": "1"})
        assert forged.status in (403, 404), forged.status
        page.goto(f"{system.url}/my")
        expect(page.locator("section.card")).to_have_count(1)
