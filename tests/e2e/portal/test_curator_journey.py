"""A curator's day on a phone (375 px wide), in a real browser against the real system: the
worklist, a mentor and a minor mentee added by form (a field error first), the base in the
Russian alphabetical order, a consent form downloaded, a pair proposed by another school for the
new mentor confirmed, an address that leads nowhere — and no page of the walk wider than the
screen."""

from __future__ import annotations

import re

from docx import Document
from playwright.sync_api import Browser, Page, expect

from shared.auth import Role
from tests.conftest import wait_until
from tests.e2e.portal.helpers import System, shot, sign_in

SCHOOL_1 = "demo/m-berezovsky/school-1"
SCHOOL_2 = "demo/m-berezovsky/school-2"
PHONE = {"width": 375, "height": 812}
ALPHABET = "абвгдежзийклмнопрстуфхцчшщъыьэюя"


def fits_the_screen(page: Page, step: str) -> None:
    """The page is never wider than the viewport (a wide table scrolls inside itself), and
    every entry of the main menu is on the screen, not clipped."""
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, "
                           "window.innerWidth]")
    # what sticks out, to name in the failure
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => !e.closest('table') && e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)""")
    assert max(widths[:2]) <= widths[2] == PHONE["width"], (step, widths, wide)
    for link in page.get_by_role("navigation", name="Основное меню").get_by_role("link").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (step, box)


def letter_place(name: str) -> int:
    first = name.strip()[0].lower().replace("ё", "е")
    return ALPHABET.index(first) if first in ALPHABET else len(ALPHABET)


def test_curator_adds_people_by_form_sees_the_worklist_and_downloads_a_consent_form(
        browser: Browser, system: System) -> None:
    context = browser.new_context(locale="ru-RU", accept_downloads=True, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        walk(page, system)
    finally:
        context.close()


def walk(page: Page, system: System) -> None:
    school = system.organisation(SCHOOL_1)
    sign_in(page, system, "curator-school-1")

    # the start page is the worklist, with the school's name (not its path code) in the header
    expect(page).to_have_url(f"{system.url}/organisations/{school['id']}/worklist")
    expect(page.get_by_role("heading", name="Что требует внимания")).to_be_visible()
    expect(page.locator(".who")).to_contain_text(school["name"])
    expect(page.locator(".who")).not_to_contain_text(SCHOOL_1)
    for section in ("reports", "roadmap", "inactive", "feedback", "surveys", "pool", "programme"):
        expect(page.locator(f'section[data-section="{section}"]')).to_be_visible()
    menu = page.get_by_role("navigation", name="Основное меню")
    expect(menu.get_by_role("link", name="Мониторинг")).to_be_visible()  # the KPI dashboard
    fits_the_screen(page, "worklist")
    shot(page, "j01-worklist-375")

    # a mentor by form
    menu.get_by_role("link", name="Базы участников").click()
    fits_the_screen(page, "base")
    page.get_by_role("link", name="Добавить наставника").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Добавить наставника")
    page.get_by_label("Фамилия").fill("Ёлкин")
    page.get_by_label(re.compile("^Имя")).fill("Артём")
    page.get_by_label("Отчество").fill("Сергеевич")
    page.get_by_label("Дата рождения").fill("1986-04-12")
    page.get_by_label("Категория").select_option(label="педагог")
    page.get_by_label("Компетенции").fill("олимпиады по математике; проектная деятельность")
    page.get_by_label("Сколько наставляемых может вести").fill("2")
    fits_the_screen(page, "mentor form")
    page.get_by_role("button", name="Сохранить наставника").click()
    expect(page.locator(".success")).to_contain_text("Ёлкин Артём Сергеевич добавлен(а) в базу")
    fits_the_screen(page, "mentor card")
    shot(page, "j02-mentor-added")
    mentor_id = page.url.rstrip("/").split("/")[-1].split("?")[0]

    # a minor mentee: without a guardian's consent the registry refuses, at the guardian field
    page.goto(f"{system.url}/organisations/{school['id']}/people/new?role=mentee")
    page.get_by_label("Фамилия").fill("Абрамова")
    page.get_by_label(re.compile("^Имя")).fill("Ева")
    page.get_by_label("Отчество").fill("Игоревна")
    page.get_by_label("Дата рождения").fill("2013-05-06")
    page.get_by_label("Категория").select_option(label="обучающийся")
    page.get_by_label("Класс", exact=True).fill("7")
    page.get_by_label("Запросы").fill("подготовка к олимпиаде; адаптация")
    page.get_by_role("button", name="Сохранить наставляемого").click()
    expect(page.get_by_role("alert")).to_contain_text("Участник не добавлен")
    guardian = page.get_by_label("ФИО законного представителя")
    expect(guardian).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-guardian_name-error")).to_contain_text("законного представителя")
    expect(page.get_by_label("Фамилия")).to_have_value("Абрамова")  # what was typed is kept
    fits_the_screen(page, "mentee form with an error")
    shot(page, "j03-mentee-field-error")
    page.get_by_label(re.compile("дано законным представителем")).check()
    guardian.fill("Абрамова Ольга Петровна")
    page.get_by_role("button", name="Сохранить наставляемого").click()
    expect(page.locator(".success")).to_contain_text("Абрамова Ева Игоревна добавлен(а) в базу")
    expect(page.locator(".card")).to_contain_text("Абрамова Ольга Петровна")
    expect(page.locator(".card")).to_contain_text("дано законным представителем")
    mentee_card = page.url

    # the consent form, filled for the person and their guardian, as a DOCX
    page.get_by_label("ФИО подписывающего").fill("Смирнова Ирина Петровна")
    page.get_by_role("button", name="Сформировать бланк согласия").click()
    expect(page.locator(".success")).to_contain_text("Бланк согласия сформирован", timeout=60_000)
    fits_the_screen(page, "consent form issued")
    shot(page, "j04-consent-form")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="скачать DOCX").click()
    document = Document(str(download_info.value.path()))
    text = " ".join([p.text for p in document.paragraphs]
                    + [c.text for t in document.tables for row in t.rows for c in row.cells])
    assert "Абрамова" in text and "Ева" in text, text[:500]

    # the base in the Russian alphabetical order: «Ёлкин» among the «Е», not before «А»
    page.goto(f"{system.url}/organisations/{school['id']}")
    names = [n for n in page.locator("#people tbody tr td:first-child").all_inner_texts()
             if "данные удалены" not in n]
    assert "Ёлкин Артём Сергеевич" in names and "Абрамова Ева Игоревна" in names
    places = [letter_place(n) for n in names]
    assert places == sorted(places), names
    assert names.index("Абрамова Ева Игоревна") < names.index("Ёлкин Артём Сергеевич")
    fits_the_screen(page, "base sorted")
    shot(page, "j05-base-sorted")

    # school 2 proposes a pair with the new mentor; school 1's curator confirms it
    propose_a_pair_from_school_2(system, mentor_id)
    page.goto(f"{system.url}/organisations/{school['id']}/pairs")
    offers = page.locator("section.proposals").filter(
        has=page.get_by_role("heading", name="Предложения пар от других организаций"))
    expect(offers).to_contain_text("Ёлкин Артём Сергеевич")
    fits_the_screen(page, "proposals")
    shot(page, "j05a-proposal")
    offers.get_by_role("button", name="Подтвердить").click()
    expect(page.locator(".success")).to_contain_text("Пара подтверждена")
    expect(page.locator("table.pairs")).to_contain_text("Ёлкин Артём Сергеевич")
    page.locator("table.pairs").get_by_role("link", name="Ёлкин Артём Сергеевич").click()
    expect(page.locator(".card")).to_contain_text(system.organisation(SCHOOL_2)["name"])
    fits_the_screen(page, "cross-school pair")

    # the worklist again: the new mentee waits for a pair
    page.goto(f"{system.url}/")
    pool = page.locator('section[data-section="pool"]')
    expect(pool).to_contain_text("без пары")
    pool.get_by_role("link", name=re.compile("Перейти к подбору пар")).click()
    expect(page.get_by_role("heading", name="Подбор наставнических пар и групп")).to_be_visible()
    fits_the_screen(page, "pairing board")

    # the programmes and the documents of the school
    page.goto(f"{system.url}/organisations/{school['id']}/programmes")
    expect(page.get_by_role("heading", name="Программы наставничества")).to_be_visible()
    fits_the_screen(page, "programmes")
    page.goto(f"{system.url}/organisations/{school['id']}/documents")
    expect(page.locator("table.documents")).to_contain_text("Согласие")
    fits_the_screen(page, "documents")
    shot(page, "j06-documents")
    page.goto(mentee_card)
    fits_the_screen(page, "mentee card")
    # the rest of the curator's menu and sections, on the same phone
    for step, url in (("pairs", f"/organisations/{school['id']}/pairs"),
                      ("roadmap", f"/organisations/{school['id']}/roadmap"),
                      ("surveys", "/surveys"), ("reports", "/reports"), ("dashboard", "/dashboard")):
        page.goto(system.url + url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        fits_the_screen(page, step)
    shot(page, "j07-dashboard-375")

    # an address that leads nowhere: a Russian page, not the APIs' JSON
    response = page.goto(f"{system.url}/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Не найдено")
    expect(page.get_by_role("link", name="На главную")).to_be_visible()
    fits_the_screen(page, "not found")
    shot(page, "j08-not-found")
    # a malformed id is a page that does not exist either, not a form to fix
    response = page.goto(f"{system.url}/people/not-an-id")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Не найдено")


def propose_a_pair_from_school_2(system: System, mentor_id: str) -> None:
    """School 2's curator names school 1's new mentor for one of its free pupils (over the API:
    the other school's screens are not this walk's)."""
    other = system.organisation(SCHOOL_2)
    with system.api(Role.CURATOR, SCHOOL_2) as api:
        pool = api.get(f"/pairing/organisations/{other['id']}/pool").json()
        mentee = next(m["id"] for m in pool["mentees"]
                      if m["in_pool"] and m["consent"] and m["category"] == "student")

        def proposed() -> bool:
            answer = api.post("/pairing/pairs", json={"form": "учитель – ученик",
                                                      "mentor_id": mentor_id, "mentee_ids": [mentee]})
            # the pairing learns of the new mentor from the registry's events a moment later
            assert answer.status_code in (201, 404), answer.text
            return answer.status_code == 201 and answer.json()["status"] == "proposed"

        wait_until(proposed, timeout=30, interval=0.3, message="the proposal to be accepted")
