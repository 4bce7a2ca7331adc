"""The real system (``nastavnik up --demo``) in a subprocess and Debian's chromium driven by
Playwright. Screenshots go to ``artifacts/screenshots/`` for a human to look at."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import wait_until
from tests.e2e.portal.helpers import CHROMIUM, CHROMIUM_ARGS, CLI, SCREENSHOTS, SECRET, System

# Assertions wait as long as actions do: a refused import is answered by a worker process, which
# on a machine busy with two test processes takes longer than Playwright's default 5 s.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data_dir = tmp_path_factory.mktemp("portal-system")
    # The calendar ticks often, so the demo's due reports have their drafts within seconds.
    env = {**os.environ, "NASTAVNIK_TOKEN_SECRET": SECRET, "NASTAVNIK_AUDIT_HEAD_INTERVAL": "1",
           "NASTAVNIK_CALENDAR_INTERVAL": "2"}
    process = subprocess.Popen([CLI, "up", "--demo", "--data-dir", str(data_dir), "--port", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        # The announcement ends once the demo region is loaded.
        wait_until(lambda: any("Остановить" in line for line in lines) or process.poll() is not None,
                   timeout=120)
        assert process.poll() is None, "".join(lines)
        url = next(line.split()[1] for line in lines if line.startswith("API:"))
        output = "".join(lines)
        for login in ("curator-school-1", "municipal-berezovsky", "regional", "auditor"):
            assert login in output, output  # `up --demo` prints a demo account per role
        yield System(url, data_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ru-RU", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
