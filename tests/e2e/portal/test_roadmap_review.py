"""A roadmap is reviewed before it is tracked (issue 22), in a real browser: a municipality
uploads a Word roadmap, sees the parse as an editable table with what the parser was unsure of
marked, corrects one item's deadline, confirms, and sees the items tracked with their deadlines
— the corrected one with the date the user gave. The review fits a 375 px phone: its table
scrolls inside itself."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from docx import Document
from playwright.sync_api import Page, expect

from shared.auth import Role
from shared.localtime import local_today
from tests.e2e.portal.helpers import System, shot, sign_in

MUNICIPALITY = "demo/m-berezovsky"


def word_roadmap(first: date, year: int) -> bytes:
    """A roadmap as offices keep it: a Word table with section rows; one deadline («после
    согласования») that no date can be read from."""
    document = Document()
    document.add_paragraph(f"Дорожная карта муниципальной системы наставничества на {year} год")
    rows = [["№", "Мероприятие", "Срок", "Ответственный", "Ожидаемый результат"],
            ["I", "Организационный этап", "", "", ""],
            ["1.", "Назначение муниципального куратора", f"до {first:%d.%m.%Y}",
             "Управление образования", "Приказ о назначении"],
            ["2.", "Совещание с кураторами школ", "после согласования", "Методический центр",
             "Протокол совещания"],
            ["II", "Основной этап", "", "", ""],
            ["3.", "Мониторинг программ наставничества", f"декабрь {year} г.",
             "Методический центр", "Аналитическая справка"]]
    table = document.add_table(rows=len(rows), cols=5)
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_roadmap_is_reviewed_corrected_confirmed_and_tracked(page: Page,
                                                                     system: System) -> None:
    today = local_today()
    year = today.year if today.month < 11 else today.year + 1
    first = max(today + timedelta(days=3), date(year, 1, 10))
    corrected = first + timedelta(days=20)
    with system.api(Role.REGIONAL) as api:
        before = len(api.get("/documents/roadmaps", params={"under": MUNICIPALITY}).json())

    sign_in(page, system, "municipal-berezovsky")
    page.goto(f"{system.url}/roadmap")
    page.get_by_label("Файл DOCX или текст").set_input_files(files=[{
        "name": "дорожная-карта.docx", "mimeType": "application/octet-stream",
        "buffer": word_roadmap(first, year)}])
    page.get_by_role("button", name="Загрузить").click()

    # The review: the parse as an editable table, the unsure deadline marked with its reason.
    expect(page.get_by_role("heading", name="Проверка дорожной карты")).to_be_visible()
    review = page.locator("table.roadmap-review")
    expect(review.locator("tr.section").first).to_have_text("I. Организационный этап")
    unsure = review.locator("tr", has_text="Совещание с кураторами школ")
    expect(unsure).to_have_class(re.compile(r"\bunsure\b"))
    expect(unsure.locator("td.unsure-cell .unsure-reason")).to_contain_text(
        "«после согласования» не распознан")
    deadline = unsure.get_by_label("Сроки, строка 2")
    expect(deadline).to_have_value("")
    expect(review.get_by_label("Сроки, строка 1")).to_have_value(f"{first:%d.%m.%Y}")
    with system.api(Role.REGIONAL) as api:  # nothing is tracked before the confirmation
        assert len(api.get("/documents/roadmaps", params={"under": MUNICIPALITY}).json()) == before
    shot(page, "48-roadmap-review")

    # A date not so written is refused with the row kept as typed; then the right date.
    deadline.fill("31.02.2025")
    page.get_by_role("button", name="Подтвердить и отслеживать").click()
    expect(page.locator("#err-2")).to_contain_text("не похож на дату")
    expect(page.get_by_label("Сроки, строка 2")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Сроки, строка 2").fill(f"{corrected:%d.%m.%Y}")
    page.get_by_role("button", name="Подтвердить и отслеживать").click()

    # Tracked: every item with its deadlines, the corrected one with the user's date.
    expect(page.locator("#roadmap-live")).to_contain_text("исправлено при проверке — 1")
    tracked = page.locator("section.roadmap", has_text=f"наставничества на {year} год")
    table = tracked.locator("table.roadmap-items")
    item = table.locator("tr", has_text="Совещание с кураторами школ")
    expect(item.locator("td.next-due time")).to_have_text(f"{corrected:%d.%m.%Y}")
    expect(table.locator("tr", has_text="Назначение муниципального куратора")
           .locator("td.next-due time")).to_have_text(f"{first:%d.%m.%Y}")
    expect(table.locator("tr", has_text="Мониторинг программ наставничества")
           .locator("td.next-due time")).to_have_text(f"31.12.{year}")
    shot(page, "49-roadmap-confirmed")
    with system.api(Role.REGIONAL) as api:
        listed = api.get("/documents/roadmaps", params={"under": MUNICIPALITY}).json()
        assert len(listed) == before + 1
        roadmap = api.get(f"/documents/roadmaps/{listed[-1]['id']}").json()
    second = roadmap["items"][1]
    assert (second["due_dates"], second["corrected"]) == ([corrected.isoformat()], ["due_dates"])

    # The review on a phone: the page is no wider than the screen, the table scrolls inside.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{system.url}/roadmap")
    page.get_by_label("Файл DOCX или текст").set_input_files(files=[{
        "name": "дорожная-карта.docx", "mimeType": "application/octet-stream",
        "buffer": word_roadmap(first, year)}])
    page.get_by_role("button", name="Загрузить").click()
    expect(page.locator("table.roadmap-review")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # On a phone the table itself is the scrolling box (portal.css: table.data at 40rem).
    scrolls = "b => b.scrollWidth > b.clientWidth && b.clientWidth <= 375"
    assert page.locator("table.roadmap-review").evaluate(scrolls)
    shot(page, "50-roadmap-review-375px")
