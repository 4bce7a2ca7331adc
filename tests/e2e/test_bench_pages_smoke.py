"""``nastavnik bench-pages --runs 1`` signs in as every role through the portal on the demo region
and times every page of that role's menu. A smoke test: every page answered 200 and the figures
were printed — never how fast anything was."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.pages import ACCOUNTS, menu_of
from tests.e2e.test_processes import CLI


def test_every_page_of_every_role_answers_and_its_times_are_printed(tmp_path: Path) -> None:
    out = tmp_path / "pages.json"
    run = subprocess.run([CLI, "bench-pages", "--runs", "1", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())

    assert set(result["roles"]) == {role.value for role in ACCOUNTS}
    for role in ACCOUNTS:
        pages = result["roles"][role.value]["pages"]
        assert [href for href, _ in menu_of(role)] == list(pages), role
        for href, page in pages.items():
            assert page["statuses"] == [200], (role, href, page["statuses"])
            assert len(page["times_ms"]) == 1 and page["p95_ms"] >= page["p50_ms"] > 0
            assert f"{role.value:<10} {href:<22} " in run.stdout, (role, href)
    assert result["all_ok"] is True and result["requests"] == sum(
        len(menu_of(role)) for role in ACCOUNTS)
    assert "итого" in run.stdout and "цель: p95 < 300 мс" in run.stdout
