"""``nastavnik demo`` against a running ``nastavnik up``: the region and its school year arrive
through the APIs, every figure is the one the plan predicts, and a second run adds nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.demo import DEMO_SEED, plan_groups, plan_region
from services.demo_activity import formation_date, pair_script, school_year_of
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.localtime import local_today
from shared.settings import Settings
from tests.conftest import wait_until
from tests.e2e.test_processes import CLI, healthy


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    data_dir = tmp_path / "var"
    # The calendar ticks every second (not every 30) so the test waits little for its notices.
    process = subprocess.Popen([CLI, "up", "--data-dir", str(data_dir), "--port", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "NASTAVNIK_CALENDAR_INTERVAL": "1"})
    try:
        wait_until(lambda: (data_dir / "run.json").exists(), timeout=60, message="run.json")
        api = json.loads((data_dir / "run.json").read_text())["api"]
        wait_until(lambda: healthy(api), timeout=60, message="API healthy")
        yield data_dir, api
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0


def hideable(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every figure of a dashboard hidden for a small group when it is: KPIs and means."""
    found = {f"kpi:{k['code']}": k for k in dashboard["kpis"]}
    satisfaction = dashboard["satisfaction"]
    found |= {f"feedback:{s}": m for s, m in satisfaction["feedback"].items()}
    found |= {f"survey:{s}": m for s, m in satisfaction["survey"].items()}
    found |= {f"growth:{s}": m for s, m in dashboard["growth"].items()}
    for cell in found.values():
        if cell.get("suppressed"):
            text = cell.get("percent", cell.get("count"))
            assert str(text).startswith("скрыто: менее"), cell
    return found


def expected_year(today: date) -> dict[str, Any]:
    """What the plan predicts for seed DEMO_SEED at scale small, figure for figure."""
    plan = plan_region(DEMO_SEED, "small", today, region_code="demo")
    figures: Counter[str] = Counter(people=plan.people)
    for municipality in plan.municipalities:
        schools_with_pairs = set()
        for group in plan_groups(municipality):
            path = f"demo/{municipality.code}/{group.school}"
            schools_with_pairs.add(path)
            size = len(group.mentees)
            script = pair_script(DEMO_SEED, f"{path}/{group.mentor}", size,
                                 formation_date(DEMO_SEED, path, today), today)
            figures["pairs"] += 1
            figures[script.fate] += 1
            figures["meetings"] += len(script.meetings)
            _, end = school_year_of(today)
            mid_january = date(end.year, 1, 15)
            figures["meetings_by_15_01"] += sum(m.on <= mid_january for m in script.meetings)
            figures["meetings_1_15_01"] += sum(date(end.year, 1, 1) <= m.on <= mid_january
                                               for m in script.meetings)
            figures["feedback"] += len(script.feedback)
            figures["surveys"] += size + (size + 1 + size if script.fate == "completed" else 0)
        figures["surveys"] += len(schools_with_pairs)  # the curator's quality survey
    return {"figures": figures, "organisations": 1 + sum(1 + len(m.organisations)
                                                         for m in plan.municipalities),
            "schools": [(f"demo/{m.code}/{o.code}", len(o.mentors) + len(o.mentees))
                        for m in plan.municipalities for o in m.organisations if o.kind == "school"]}


def test_demo_loads_a_school_year_through_the_apis_and_only_once(running: tuple[Path, str]) -> None:
    data_dir, api = running
    today = local_today()  # the demo dates by the region's day
    expected = expected_year(today)
    figures = expected["figures"]
    assert figures["pairs"] > 10 and figures["completed"] and figures["dissolved"]

    run = subprocess.run([CLI, "demo", "--scale", "small", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"пар и групп: {figures['pairs']}" in run.stdout, run.stdout
    assert f"встреч: {figures['meetings']}" in run.stdout

    token = issue_token(Actor(user="checker", role=Role.REGIONAL, scope=OrgPath(region="demo")),
                        Settings(data_dir=data_dir).signing_secret)
    client = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    organisations = client.get("/registry/organisations").raise_for_status().json()
    assert len(organisations) == expected["organisations"]
    by_path = {o["path"]: o["id"] for o in organisations}
    people = 0
    for path, planned in expected["schools"]:
        pool = client.get(f"/pairing/organisations/{by_path[path]}/pool").raise_for_status().json()
        assert len(pool["mentors"]) + len(pool["mentees"]) == planned
        people += planned
    assert people == figures["people"]

    pairs = client.get("/pairing/pairs").raise_for_status().json()
    assert len(pairs) == figures["pairs"]
    assert Counter(p["status"] for p in pairs) == {s: figures[s] for s in ("completed", "dissolved", "active")
                                                   if figures[s]}
    assert sum(p["meetings"] for p in pairs) == figures["meetings"]
    start, end = school_year_of(today)
    assert all(start <= date.fromisoformat(p["formed_on"]) <= date.fromisoformat(p["last_meeting_on"])
               <= end < today for p in pairs)
    completed = next(p for p in pairs if p["status"] == "completed")
    detail = client.get(f"/pairing/pairs/{completed['id']}").raise_for_status().json()
    assert [m["kind"] for m in detail["meetings"]][:3] == ["intro", "trial", "planning"]
    assert detail["meetings"][-1]["kind"] == "final" and detail["goals"]
    answered = [m for m in detail["meetings"] if m["feedback_from"]]
    assert answered
    feedback = client.get(f"/pairing/pairs/{completed['id']}/meetings/{answered[0]['number']}/feedback")
    assert {f["side"] for f in feedback.raise_for_status().json()} == set(answered[0]["feedback_from"])

    def dashboard() -> dict[str, Any]:
        return client.get("/monitoring/regions/demo/dashboard").raise_for_status().json()

    wait_until(lambda: (lambda d: d["pairs"]["formed"] == figures["pairs"]
                        and d["meetings"]["held"] == figures["meetings"]
                        and d["feedback"]["submitted"] == figures["feedback"]
                        and d["surveys"]["total"] == figures["surveys"])(dashboard()),
               timeout=60, message="the regional dashboard caught up")
    figures_now = dashboard()
    assert figures_now["pairs"]["by_status"] == {s: figures[s] for s in ("active", "completed", "dissolved")}
    assert figures_now["mentors"]["total"] + figures_now["mentees"]["total"] == figures["people"]
    assert figures_now["satisfaction"]["feedback"]["mentee"]["mean"] is not None
    assert figures_now["growth"]["overall"]["mean"] > 0  # exit answers above entry ones
    months = [m["month"] for m in figures_now["meetings"]["by_month"]]
    assert months[0] == f"{start:%Y-%m}" and months[-1] == f"{end:%Y-%m}"

    # As of 15 January: the demo was loaded today, so nothing had been shown then; what is
    # known today to have been held by then is every meeting dated up to that day.
    mid_january = date(end.year, 1, 15).isoformat()
    shown = client.get("/monitoring/regions/demo/dashboard",
                       params={"as_of": mid_january, "basis": "shown"}).raise_for_status().json()
    known = client.get("/monitoring/regions/demo/dashboard",
                       params={"as_of": mid_january, "basis": "known"}).raise_for_status().json()
    assert shown["meetings"]["held"] == 0
    assert figures["meetings_1_15_01"] > 0
    assert known["meetings"]["held"] == figures["meetings_by_15_01"]
    january = next(m for m in known["meetings"]["by_month"] if m["month"] == f"{end.year}-01")
    assert january["meetings"] == figures["meetings_1_15_01"]

    # No hidden figure of the region, a municipality or a school can be recovered by subtracting
    # the visible units from their parent: under a parent whose figure shows, never one alone.
    scopes = [o["path"] for o in organisations]
    shown_now = {scope: client.get("/monitoring/dashboard", params={"org": scope})
                 .raise_for_status().json() for scope in scopes}
    hidden_seen = 0
    for parent, body in shown_now.items():
        units = [u["scope"] for u in body["units"] if u["scope"] in shown_now]
        for code, cell in hideable(body).items():
            if cell.get("suppressed"):
                hidden_seen += 1
                assert cell.get("reason") in ("primary", "complementary")
                continue
            hidden = [u for u in units if hideable(shown_now[u])[code].get("suppressed")]
            assert len(hidden) != 1, (parent, code, hidden)
    assert hidden_seen > 0  # the demo's small schools do hide some

    # A pair cannot be recorded as formed on a day still to come (and nothing changes).
    mentee = next(m for m in client.get(f"/pairing/organisations/{by_path[expected['schools'][0][0]]}/pool")
                  .json()["mentees"] if m["in_pool"])
    refused = client.post("/pairing/pairs", json={
        "programme_id": completed["programme_id"], "mentor_id": completed["mentor_id"],
        "mentee_ids": [mentee["id"]], "formed_on": (today + timedelta(days=1)).isoformat()})
    assert refused.status_code == 422 and refused.json()["code"] == "FORMED_IN_FUTURE"

    # The demo's calendar sends its reminders and overdue notices on its own clock: wait for
    # them, so that what the second run must not add is the demo's alone.
    def notices_pending() -> list[str]:
        reports = client.get("/monitoring/calendar").raise_for_status().json()["reports"]
        return [r["report_id"] for r in reports
                if r["status"] in ("due", "overdue") and not r["notices_sent"]]

    wait_until(lambda: not notices_pending(), timeout=30, message="the calendar's notices sent")
    stored = {name: s["stored"] for name, s in client.get("/health").json()["services"].items()
              if "stored" in s}
    again = subprocess.run([CLI, "demo", "--scale", "small", "--data-dir", str(data_dir)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "уже загружен" in again.stdout
    assert {name: s["stored"] for name, s in client.get("/health").json()["services"].items()
            if "stored" in s} == stored
    assert len(client.get("/pairing/pairs").json()) == figures["pairs"]
    client.close()
