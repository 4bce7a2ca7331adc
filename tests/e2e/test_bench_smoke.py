"""``nastavnik bench --scale small`` drives the real system and reports every figure it promises.

A smoke test: figures exist and make sense, never how fast anything was. PostgreSQL is the store
when NASTAVNIK_TEST_POSTGRES_URL is set (the bench then runs in a schema of its own), SQLite
otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.suite import GOALS
from benchmarks.system import SERVICES
from tests.e2e.test_processes import CLI

pytestmark = pytest.mark.many_connections  # service processes or replicas on one database


def test_small_bench_reports_every_figure_with_its_goal(tmp_path: Path) -> None:
    backend = "postgres" if os.environ.get("NASTAVNIK_TEST_POSTGRES_URL") else "sqlite"
    out = tmp_path / "bench.json"
    run = subprocess.run([CLI, "bench", "--scale", "small", "--backend", backend, "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    figures, loaded, details = result["figures"], result["load"], result["details"]
    assert result["backend"] == backend and result["absent"] == []
    assert set(figures) == set(GOALS)
    for name, value in figures.items():
        assert isinstance(value, int | float) and value > 0, name
        assert f"{name} " in run.stdout, name
    assert run.stdout.count("цель:") >= len(GOALS)

    # The region and its school year went through the APIs, and everything reached monitoring.
    assert loaded["people"] == 180 and loaded["pairs"] > 0 and loaded["meetings"] > 0
    assert all(loaded["events_by_service"][s] > 0 for s in ("registry", "pairing", "monitoring"))
    assert details["log_events"] >= loaded["events"]
    # Each service ran as its own process (its own memory), and the matching found pairs.
    assert all(figures[f"peak_rss_mb_{s}"] > 30 for s in SERVICES)
    assert details["match_paired"] > 0 and details["match_mentees"] >= details["match_paired"]
    # Quality, not speed: on the small municipality the pairing's answer is the exact optimum.
    assert figures["match_score_vs_exact"] >= 0.999 and details["match_score_source"] == "api"
    # Every meeting sent reached the regional figure; the offline commands saw the whole log.
    assert details["pipeline_events"] > 0
    assert details["verify_entries"] >= details["log_events"]
    assert details["rebuild_events"] >= details["log_events"]
    assert details["rebuild_matches_live"] is True
    assert figures["pipeline_lag_p99_ms"] >= figures["pipeline_lag_p50_ms"]
    assert figures["dashboard_p99_ms"] >= figures["dashboard_p50_ms"]
