"""Run one ``nastavnik`` command in this process and report how long the command itself took.

    python -m benchmarks.timed_cli audit verify --data-dir var

The same Typer application as the ``nastavnik`` script, in a process of its own; the time is
taken after the interpreter has started and imported the application, so that a small log is
not measured as Python's start-up. The last line on stderr is ``BENCH-TIMING {json}``.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.system import MARK
from services.cli import app


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    code: int = 0
    try:
        returned = app(args=argv, prog_name="nastavnik", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    seconds = time.perf_counter() - started
    sys.stdout.flush()
    print(MARK + json.dumps({"seconds": seconds, "exit_code": code}), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
