"""Helpers of the portal's browser tests: the running system, signing in, screenshots, files."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from docx import Document
from openpyxl import Workbook
from playwright.sync_api import Browser, Locator, Page, expect

from services.portal.auth import DEMO_PASSWORD
from shared.auth import Actor, OrgPath, Role, issue_token
from tests.conftest import wait_until
from tests.sign_in_codes import demo_code, needs_code

CLI = str(Path(sys.executable).with_name("nastavnik"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
SECRET = "portal-e2e-secret-of-at-least-32-bytes"
MUNICIPALITY = "demo/m-berezovsky"
PHONE = {"width": 375, "height": 812}
MENTOR_HEADERS = ["ФИО", "Дата рождения", "Категория", "Компетенции", "Кол-во наставляемых",
                  "Согласие на обработку ПД"]
MENTEE_HEADERS = ["ФИО", "Дата рождения", "Категория", "Класс", "Запросы",
                  "ФИО законного представителя", "Согласие на обработку ПД",
                  "Согласие законного представителя"]


@dataclass
class System:
    url: str
    data_dir: Path

    def token(self, role: Role, scope: str, user: str = "e2e") -> str:
        return issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)), SECRET)

    def api(self, role: Role = Role.REGIONAL, scope: str = "demo") -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"Authorization": f"Bearer {self.token(role, scope)}"})

    def organisation(self, path: str) -> dict[str, Any]:
        with self.api() as api:
            found = [o for o in api.get("/registry/organisations").json() if o["path"] == path]
        assert found, path
        return found[0]


def new_school(system: System, code: str, name: str, curator: str) -> dict[str, Any]:
    """A school of the demo municipality with nobody in it yet, and its curator's account (the
    region registers both, as it does for a school joining the programme)."""
    municipality = system.organisation(MUNICIPALITY)
    with system.api() as api:
        api.post("/registry/organisations", json={"code": code, "name": name, "kind": "school",
                                                  "parent_id": municipality["id"]}).raise_for_status()
        api.post("/auth/accounts", json={"login": curator, "password": DEMO_PASSWORD, "role": "curator",
                                         "scope": f"{MUNICIPALITY}/{code}"}).raise_for_status()
    return system.organisation(f"{MUNICIPALITY}/{code}")


@contextmanager
def phone(browser: Browser) -> Iterator[Page]:
    """A page of a phone's width (375 px): every journey is walked on one."""
    context = browser.new_context(locale="ru-RU", accept_downloads=True, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def fits_the_screen(page: Page, step: str) -> None:
    """The page is never wider than the viewport (a wide table scrolls inside itself), and
    every entry of the main menu is on the screen, not clipped."""
    page.wait_for_load_state()
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


#: WCAG 2.1's contrast ratio of an element's text against the background it is drawn on (the
#: nearest ancestor's that is not transparent).
CONTRAST = """element => {
    const rgba = text => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => [r, g, b].map(v => v / 255)
        .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    let background = [255, 255, 255];
    for (let e = element; e; e = e.parentElement) {
        const colour = rgba(getComputedStyle(e).backgroundColor);
        if (colour.length < 4 || colour[3] > 0) { background = colour; break; }
    }
    const [light, dark] = [luminance(rgba(getComputedStyle(element).color)), luminance(background)]
        .sort((a, b) => b - a);
    return (light + 0.05) / (dark + 0.05);
}"""


def readable(locator: Locator) -> None:
    """The element's text can be read: contrast at least 4.5:1 (WCAG 2.1 AA for normal text)."""
    ratio = locator.evaluate(CONTRAST)
    assert ratio >= 4.5, (locator, round(ratio, 2))


def step(page: Page, name: str) -> None:
    """One step of a journey done: the page fits the phone, and its picture is kept."""
    fits_the_screen(page, name)
    shot(page, name)


def sign_in(page: Page, system: System, login: str) -> None:
    """Sign-in as a person does it: the password, and for the roles that need it the code their
    authenticator app shows (the demo account's published secret)."""
    page.goto(f"{system.url}/login")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_load_state()
    if needs_code(login):
        page.get_by_label("Код из приложения").fill(demo_code(login, system.url))
        page.get_by_role("button", name="Подтвердить").click()
        page.wait_for_load_state()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def xlsx(rows: list[list[Any]], headers: list[str] = MENTEE_HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def reload_until(page: Page, shown: Callable[[], bool], message: str) -> None:
    """What arrives over the bus (a draft from ``ReportDue``, an answer in the tally, new people
    in the pairing's pool) shows after a reload or two."""
    def check() -> bool:
        if shown():
            return True
        page.reload()
        return False

    wait_until(check, timeout=30, interval=0.3, message=message)


def main_menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Основное меню").get_by_role("link", name=name).click()


def docx_text(path: Path | str) -> str:
    document = Document(str(path))
    return " ".join([p.text for p in document.paragraphs]
                    + [c.text for t in document.tables for row in t.rows for c in row.cells])


def submit_report(page: Page, row: Locator, conclusions: str) -> None:
    """A due report from its row in «Отчётность»: the form filled in and the report submitted."""
    row.get_by_role("link", name=re.compile("Подготовить и сдать")).click()
    page.get_by_label("Территория").fill("Берёзовский муниципальный округ")
    page.get_by_label("ФИО подписывающего").fill("Смирнова Ирина Петровна")
    page.get_by_label(re.compile("^Выводы")).fill(conclusions)
    page.get_by_role("button", name="Сдать отчёт").click()
    expect(page.locator(".success")).to_contain_text("Отчёт сдан и зарегистрирован")


def another_schools_pair(system: System, path: str) -> str:
    """A pair of that school's own (a pair with a mentor of another school is that school's to
    see too)."""
    other = system.organisation(path)
    with system.api() as api:
        pairs = api.get("/pairing/pairs", params={"organisation_id": other["id"]}).json()
    return str(next(p["id"] for p in pairs if not p["cross_organisation"]))
