"""Each figure of ``nastavnik bench``, measured on the loaded, running system.

Online figures go through the services' HTTP APIs with the tokens of the people who would ask;
offline ones (verifying the audit log, rebuilding the dashboards) run the operator's
``nastavnik`` command as a subprocess against the monitoring data, timed from outside.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx

from benchmarks.system import REGION, System
from services.demo import plan_region, to_csv
from services.demo_activity import Clients
from shared.localtime import local_today

FORM = "student-student"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def current_school_year(today: date) -> str:
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}-{start + 1}"


def people(seed: int, count: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``count`` people of one school from the demo generator: a third mentors, the rest mentees."""
    school = plan_region(seed, municipalities=1, schools=1, people=count).municipalities[0].organisations[0]
    return school.mentors, school.mentees


def mentee_body(organisation_id: str, row: dict[str, str]) -> dict[str, Any]:
    last, first, middle = row["ФИО"].split()
    return {"organisation_id": organisation_id, "category": "student", "grade": int(row["Класс"]),
            "consent_given_by": "guardian",
            "person": {"last_name": last, "first_name": first, "middle_name": middle,
                       "birth_date": "-".join(reversed(row["Дата рождения"].split("."))),
                       "guardian_name": row["ФИО законного представителя"]}}


class BenchSchools:
    """Schools the bench adds to the loaded region's first municipality, one per measurement,
    so that each starts from a known state."""

    def __init__(self, clients: Clients, municipality: str, municipality_id: str) -> None:
        self.clients = clients
        self.municipality = f"{REGION}/{municipality}"
        self.municipality_id = municipality_id

    def add(self, code: str) -> tuple[str, httpx.Client]:
        """A new school; returns its id and its curator's client."""
        body = {"code": code, "name": f"Школа бенчмарка {code}", "kind": "school",
                "parent_id": self.municipality_id}
        school_id = str(self.clients(self.municipality).post("/registry/organisations", json=body)
                        .raise_for_status().json()["id"])
        return school_id, self.clients(f"{self.municipality}/{code}")


# --- registry: bulk import and single commands ---------------------------------------------

def bulk_import(schools: BenchSchools, rows: int) -> dict[str, Any]:
    """One CSV of ``rows`` mentees through the registry's import endpoint."""
    school_id, client = schools.add("bench-import")
    _, mentees = people(101, rows * 3 // 2 + 3)
    data = to_csv(mentees[:rows])
    started = time.perf_counter()
    client.post(f"/registry/organisations/{school_id}/import", params={"role": "mentee"},
                files={"file": ("bench.csv", data)}).raise_for_status()
    seconds = time.perf_counter() - started
    return {"bulk_import_rows_per_s": round(rows / seconds, 1), "bulk_import_rows": rows}


def ingest(system: System, schools: BenchSchools, commands: int, workers: int = 8) -> dict[str, Any]:
    """Mentees registered one by one, ``workers`` clients at once, until every event they made
    is stored and published."""
    school_id, client = schools.add("bench-ingest")
    _, mentees = people(102, commands * 3 // 2 + 3)
    bodies = [mentee_body(school_id, row) for row in mentees[:commands]]
    registry = system.services["registry"]
    before = system.wait_quiet()["registry"]

    def send(body: dict[str, Any]) -> None:
        client.post("/registry/mentees", json=body).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, bodies))
    deadline = time.monotonic() + 600
    while True:
        health = registry.health()
        if int(health["published"]) >= int(health["stored"]):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the registry's relay did not catch up")
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    events = int(health["stored"]) - before
    return {"ingest_events_per_s": round(events / seconds, 1),
            "ingest_commands_per_s": round(commands / seconds, 1), "ingest_events": events}


# --- pipeline lag: a pair's meeting stored → counted in the region's figure -----------------

def lag_pairs(system: System, schools: BenchSchools, mentors: int) -> tuple[list[str], httpx.Client]:
    """A school with pupils to mentor, its programme, and its pairs as the pairing suggests."""
    school_id, client = schools.add("bench-lag")
    mentor_rows, mentee_rows = people(103, mentors * 6)
    pupils = [row for row in mentor_rows if row["Категория"] == "обучающийся"][:mentors]
    for role, rows in (("mentor", pupils), ("mentee", mentee_rows[:mentors * 2])):
        client.post(f"/registry/organisations/{school_id}/import", params={"role": role},
                    files={"file": (f"{role}.csv", to_csv(rows))}).raise_for_status()
    programme = str(client.post("/registry/programmes", json={
        "organisation_id": school_id, "form": FORM, "school_year": current_school_year(local_today()),
        "curator": "bench"}).raise_for_status().json()["id"])
    deadline = time.monotonic() + 600
    while True:  # the pairing learns the school's people from the registry's events
        pool = client.get(f"/pairing/organisations/{school_id}/pool").raise_for_status().json()
        if len(pool["mentees"]) >= mentors * 2 and len(pool["mentors"]) >= len(pupils):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the pairing did not learn the bench school")
        time.sleep(0.05)
    suggested = client.get("/pairing/suggestions", params={"programme_id": programme}).raise_for_status()
    groups = [{"mentor_id": g["mentor_id"], "mentee_ids": g["mentee_ids"]}
              for g in suggested.json()["groups"]]
    if not groups:
        raise RuntimeError("the pairing suggested no pairs for the bench school")
    confirmed = client.post("/pairing/suggestions/confirm", json={
        "programme_id": programme, "groups": groups, "order_ref": "Приказ № 1-н"}
    ).raise_for_status().json()
    # A group with another school's mentor is only a proposal until that school confirms it:
    # meetings are recorded on the school's own pairs.
    proposed = set(confirmed.get("proposed_ids", []))
    pair_ids = [p for p in confirmed["pair_ids"] if p not in proposed]
    if not pair_ids:
        raise RuntimeError("the bench school got no pair of its own")
    system.wait_quiet()
    return pair_ids, client


def pipeline_lag(system: System, schools: BenchSchools, dashboard: httpx.Client, rate: float,
                 seconds: float, pairs: int = 60, workers: int = 8, poll: float = 0.01) -> dict[str, Any]:
    """Meetings recorded through the pairing API at a steady ``rate``; each one's time from
    being stored (the API answered) to being counted in the region's figure, read through the
    monitoring API."""
    pair_ids, client = lag_pairs(system, schools, pairs)
    today = local_today().isoformat()
    kinds = ("intro", "trial", "planning")

    def held() -> int:
        body = dashboard.get(f"/monitoring/regions/{REGION}/dashboard").raise_for_status().json()
        return int(body["meetings"]["held"])

    base = held()
    lock = threading.Lock()
    stored_at: list[tuple[int, float]] = []  # (meetings stored so far, when), in order
    seen: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        pending = 0
        while not done.is_set():  # set once every meeting was seen, or on giving up
            count = held() - base
            now = time.perf_counter()
            with lock:
                while pending < len(stored_at) and stored_at[pending][0] <= count:
                    seen[pending] = now
                    pending += 1
            time.sleep(poll)

    start = time.perf_counter() + 0.2
    total_ticks = int(seconds * rate)

    def drive(worker: int) -> None:
        mine = pair_ids[worker::workers]
        held_by_pair = [0] * len(mine)
        for n, tick in enumerate(range(worker, total_ticks, workers)):
            delay = start + tick / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            k = n % len(mine)
            number = held_by_pair[k]
            client.post(f"/pairing/pairs/{mine[k]}/meetings", json={
                "kind": kinds[number] if number < len(kinds) else "regular", "date": today,
                "duration_minutes": 45, "format": "in_person",
                # No feedback is collected here: each meeting says why (the rule holds).
                "missing_feedback_reason": "Замер нагрузки: отзывы не собираются"}
            ).raise_for_status()
            held_by_pair[k] += 1
            with lock:
                stored_at.append(((stored_at[-1][0] if stored_at else 0) + 1, time.perf_counter()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    workers = min(workers, len(pair_ids))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(drive, range(workers)))
    achieved = len(stored_at) / (stored_at[-1][1] - start) if stored_at else 0.0
    deadline = time.monotonic() + 120
    while len(seen) < len(stored_at) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    watcher.join(timeout=30)
    if len(seen) < len(stored_at):
        raise TimeoutError(f"{len(stored_at) - len(seen)} meetings never reached the regional figure")
    lags = [(seen[i] - t) * 1000 for i, (_, t) in enumerate(stored_at)]
    return {"pipeline_lag_p50_ms": round(statistics.median(lags), 1),
            "pipeline_lag_p99_ms": round(percentile(lags, 0.99), 1),
            "pipeline_rate_events_per_s": round(achieved, 1), "pipeline_target_events_per_s": rate,
            "pipeline_events": len(stored_at)}


# --- reading: the dashboard and the pairing's suggestions ----------------------------------

def dashboard_times(dashboard: httpx.Client, queries: int) -> dict[str, Any]:
    """The regional dashboard through the monitoring API, one request after another."""
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        dashboard.get(f"/monitoring/regions/{REGION}/dashboard").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {"dashboard_p50_ms": round(percentile(times, 0.5), 2),
            "dashboard_p99_ms": round(percentile(times, 0.99), 2), "dashboard_queries": queries}


def suggestions(client: httpx.Client, municipality_id: str) -> dict[str, Any]:
    """Optimal pairs for a whole municipality through the pairing API, on the loaded pools."""
    params = {"municipality_id": municipality_id, "form": FORM}
    started = time.perf_counter()
    body = client.get("/pairing/suggestions", params=params, timeout=1800).raise_for_status().json()
    first = time.perf_counter() - started
    started = time.perf_counter()
    client.get("/pairing/suggestions", params=params, timeout=1800).raise_for_status()
    again = time.perf_counter() - started
    mentors = len({g["mentor_id"] for g in body["groups"]})
    return {"match_seconds": round(first, 3), "match_seconds_repeat": round(again, 3),
            "match_mentees": body["mentees"], "match_paired": body["paired"],
            "match_mentors_used": mentors, "match_exact": body["exact"],
            "match_total_score": body["total_score"]}


def match_quality(mentees: int, mentors: int) -> dict[str, Any]:
    """The matching core against an exact solver on the synthetic municipality of
    ``benchmarks/bench_matching.py``: the pairing's pools cannot be read from outside, so
    where the API's answer is not proved exact this is the measure of its quality."""
    # Imported here: ``nastavnik`` loads this module with its plugin commands, and numpy with
    # it would sit in every ``nastavnik up`` process.
    from benchmarks.bench_matching import run_benchmark

    figures = run_benchmark(mentees, mentors, seed=1)
    return {"match_core_score_vs_exact": figures["match_score_vs_exact"],
            "match_exact_scope": figures["exact_scope"],
            "match_core_seconds": figures["match_seconds"],
            "match_core_instance": f"{mentees}x{mentors}"}


# --- offline: the operator's commands ------------------------------------------------------

def verify(system: System) -> dict[str, Any]:
    """``nastavnik audit verify``: the whole log against its chain and the head the monitoring
    service signed; then again with every service's store checked against the log."""
    monitoring = system.services["monitoring"]
    deadline = time.monotonic() + 120
    while (health := monitoring.health())["signed_size"] < health["log_size"]:
        if time.monotonic() > deadline:
            raise TimeoutError("the monitoring service did not sign its audit log's head")
        time.sleep(0.1)
    wall, seconds, out = system.cli("audit", "verify", "--no-services")
    found = re.search(r"записей (\d+)", out)
    if found is None or "ЦЕЛ" not in out:
        raise RuntimeError(f"audit verify: {out}")
    entries = int(found.group(1))
    _, with_services, _ = system.cli("audit", "verify")
    return {"verify_entries_per_s": round(entries / seconds), "verify_entries": entries,
            "verify_seconds": round(seconds, 3), "verify_command_seconds": round(wall, 2),
            "verify_with_services_seconds": round(with_services, 3)}


def rebuild(system: System, dashboard: httpx.Client) -> dict[str, Any]:
    """``nastavnik monitoring rebuild --restart`` while the service runs; the dashboards it
    rebuilt must say what the live ones said."""
    def figures() -> dict[str, Any]:
        body = dashboard.get(f"/monitoring/regions/{REGION}/dashboard").raise_for_status().json()
        return {"meetings": body["meetings"]["held"], "pairs": body["pairs"]["formed"],
                "mentees": body["mentees"]["total"], "mentors": body["mentors"]["total"]}

    live = figures()
    wall, _, out = system.cli("monitoring", "rebuild", "--restart", "--json")
    result = json.loads(out.strip().splitlines()[-1])
    return {"rebuild_events_per_s": result["events_per_s"], "rebuild_events": result["events"],
            "rebuild_seconds": result["seconds"], "rebuild_command_seconds": round(wall, 2),
            "rebuild_matches_live": figures() == live}
