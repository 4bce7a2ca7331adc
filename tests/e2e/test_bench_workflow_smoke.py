"""``nastavnik bench-workflow`` at a tiny scale: the workflow of issue 24 goes through the
embedded system's API at each client count, and every step reports its figures. A smoke test:
that figures exist and make sense, never how fast anything was."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.workflow import STEPS
from tests.e2e.test_processes import CLI


def test_tiny_workflow_bench_reports_every_step_at_each_client_count(tmp_path: Path) -> None:
    out = tmp_path / "workflow.json"
    run = subprocess.run([CLI, "bench-workflow", "--people", "4", "--clients", "1,2",
                          "--idle-seconds", "1", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    steps = result["steps"]
    assert [(s["step"], s["clients"]) for s in steps] == [(step, clients) for clients in (1, 2)
                                                          for step in STEPS]
    # 4 people: 2 pairs, 3 goals and 2 meetings a pair, 4 accounts each signing in once.
    expected = {"register": 4, "form_pair": 2, "add_goal": 6, "record_meeting": 4,
                "create_account": 4, "sign_in": 4}
    for step in steps:
        assert step["commands"] == expected[step["step"]], step
        assert step["per_s"] > 0 and step["cpu_ms_per_command"] > 0, step
        assert step["p99_ms"] >= step["p50_ms"] > 0, step
        assert f"{step['step']:<16}{step['clients']:>8}" in run.stdout
    assert result["peak_memory_mb"] >= result["memory_after_start_mb"] > 0
    assert result["idle_cpu_percent"] is not None and "простой" in run.stdout
