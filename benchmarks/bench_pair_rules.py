"""What forming a pair reads for its rules (the mentor's free places, the mentees' other pairs),
and what an organisation's pool page reads, against a region holding more and more pairs: the
cost per command should not grow with the region.

    .venv/bin/python benchmarks/bench_pair_rules.py --pairs 10000,50000,100000

The pairing's own reads (``PoolReader``) on a SQLite view file filled with active pairs, one
mentee each, two pairs per mentor, 500 people per school. Prints a line per size and a final
JSON line for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.pairing import pools, views  # noqa: E402 - repo root on sys.path
from services.pairing.pool_reader import PoolReader  # noqa: E402

SCHOOL_SIZE = 500


def filled(pairs: int, folder: Path) -> tuple[sa.Engine, list[uuid.UUID], list[uuid.UUID], uuid.UUID]:
    engine = sa.create_engine(f"sqlite:///{folder / f'pairing-{pairs}.db'}")
    views.metadata.create_all(engine)
    pools.metadata.create_all(engine)
    mentors = [uuid.uuid4() for _ in range(pairs // 2)]
    mentees = [uuid.uuid4() for _ in range(pairs)]
    schools = [uuid.uuid4() for _ in range(max(1, pairs // SCHOOL_SIZE))]
    rows = [{"id": uuid.uuid4(), "organisation_id": schools[i % len(schools)], "path": "r/m/s",
             "form": "teacher-student", "mentor_id": mentors[i // 2], "size": 1,
             "status": "active", "formed_on": "2026-09-01", "meetings": 0} for i in range(pairs)]
    person = {"path": "r/m/s", "region": "r", "municipality": "m", "birth_year": 1980,
              "consent": True, "withdrawn": False}
    with engine.begin() as conn:
        conn.execute(views.pairs.insert(), rows)
        conn.execute(views.pair_mentees.insert(), [
            {"pair_id": row["id"], "mentee_id": mentee, "active": True}
            for row, mentee in zip(rows, mentees, strict=True)])
        conn.execute(pools.mentors.insert(), [
            {**person, "id": m, "organisation_id": schools[(2 * i) % len(schools)],
             "category": "teacher", "competencies": [], "capacity": 3}
            for i, m in enumerate(mentors)])
        conn.execute(pools.mentees.insert(), [
            {**person, "id": e, "organisation_id": schools[i % len(schools)], "category": "student",
             "requests": [], "minor": True} for i, e in enumerate(mentees)])
    return engine, mentors, mentees, schools[0]


def per_call_ms(work: Callable[[], Any], repeat: int = 50) -> float:
    work()
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return round(1000 * (time.perf_counter() - started) / repeat, 3)


def measure(pairs: int, folder: Path) -> dict[str, Any]:
    engine, mentors, mentees, school = filled(pairs, folder)
    reader = PoolReader()
    reader.engine = engine
    school_mentors = sa.select(pools.mentors.c.id).where(pools.mentors.c.organisation_id == school)
    with engine.connect() as conn:
        figures = {
            "pairs": pairs,
            "form_pair_rules_ms": per_call_ms(lambda: (reader._loads(conn, [mentors[7]]),
                                                       reader._paired(conn, [mentees[11]]))),
            "school_pool_loads_ms": per_call_ms(lambda: reader._loads(conn, school_mentors)),
        }
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="10000,50000,100000", help="active pairs in the region")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for pairs in (int(p) for p in args.pairs.split(",")):
            figures = measure(pairs, Path(folder))
            results.append(figures)
            print(f"{pairs:>7} active pairs: a pair's rules {figures['form_pair_rules_ms']} ms, "
                  f"a school's pool loads {figures['school_pool_loads_ms']} ms")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
