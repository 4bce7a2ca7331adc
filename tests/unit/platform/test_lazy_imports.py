"""The matching stack (numpy, scipy, OR-Tools: ~100 MB resident) is loaded where a matching
runs, never by a process that only starts the services or records pairs, goals and meetings."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "scipy", "ortools")


def loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_starting_every_service_and_the_cli_loads_no_matching_stack() -> None:
    assert loaded_after("import services.cli, services.bootstrap\n"
                        "from services.bootstrap import RUNTIMES\n"
                        "import services.pairing.application, services.pairing.queries\n"
                        "import services.pairing.matching as m\n"
                        "m.score_pair, m.Form, m.DEFAULT_FORMS") == []


def test_a_matching_loads_it_when_it_runs() -> None:
    assert "numpy" in loaded_after("from services.pairing.matching import suggest")
