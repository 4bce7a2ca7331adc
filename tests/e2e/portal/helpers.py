"""Helpers of the portal's browser tests: the running system, signing in, screenshots, files."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook
from playwright.sync_api import Page

from services.portal.auth import DEMO_PASSWORD
from shared.auth import Actor, OrgPath, Role, issue_token
from tests.sign_in_codes import demo_code, needs_code

CLI = str(Path(sys.executable).with_name("nastavnik"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
SECRET = "portal-e2e-secret-of-at-least-32-bytes"
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
