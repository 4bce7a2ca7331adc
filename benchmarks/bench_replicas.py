"""Commands per second of N concurrent commands spread over replicas of the registry.

Each replica is a process of its own with the registry's service layer over one shared store
(the SQLite files of a temporary folder, or a fresh schema of ``--postgres URL``); once all are
up they register people at once, ``--clients`` at a time each, in several schools. The figure is
all commands over the wall time from the first start to the last finish.

    .venv/bin/python -m benchmarks.bench_replicas --commands 400 --replicas 2
    .venv/bin/python -m benchmarks.bench_replicas --postgres postgresql://postgres@127.0.0.1:5432/test

Only public service-layer calls are used, so the same file measures an older checkout too
(``PYTHONPATH=<checkout> python benchmarks/bench_replicas.py``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from services.registry.application import RegistryService
from services.registry.commands import RegisterMentee, RegisterOrganisation
from shared.auth import system_actor
from shared.settings import Settings
from shared.store import CommandContext

SCHOOLS = 8


def mentee(school: UUID, n: int) -> RegisterMentee:
    return RegisterMentee.model_validate({
        "organisation_id": str(school), "category": "student", "grade": 7,
        "consent_given_by": "guardian", "requests": ["олимпиада"],
        "person": {"last_name": "Орлов", "first_name": "Егор", "middle_name": "Ильич",
                   "birth_date": f"{2010 + n % 5}-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}",
                   "guardian_name": "Орлова Мария Ивановна"}})


def replica(settings: Settings, jobs: list[tuple[UUID, int]], clients: int, start: Barrier,
            out: Queue) -> None:
    service = RegistryService(settings)
    ctx = CommandContext(system_actor("demo"))
    try:
        start.wait(timeout=300)
        began = time.time()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda job: service.register_people(ctx, [mentee(*job)]), jobs))
        out.put((began, time.time()))
    finally:
        service.close()


def setup(settings: Settings) -> list[UUID]:
    service = RegistryService(settings)
    ctx = CommandContext(system_actor("demo"))
    try:
        region = service.register_organisation(ctx, RegisterOrganisation(code="demo", name="Демо",
                                                                         kind="region"))
        municipality = service.register_organisation(ctx, RegisterOrganisation(
            code="m1", name="Округ", kind="municipality", parent_id=region))
        return [service.register_organisation(ctx, RegisterOrganisation(
            code=f"s{i}", name=f"Школа {i}", kind="school", parent_id=municipality))
            for i in range(SCHOOLS)]
    finally:
        service.close()


def measure(settings: Settings, commands: int, replicas: int, clients: int) -> float:
    schools = setup(settings)
    # The n-th person of a school: each command a different person, spread over the schools.
    jobs = [(schools[n % SCHOOLS], n // SCHOOLS) for n in range(commands)]
    spawn = multiprocessing.get_context("spawn")
    start, out = spawn.Barrier(replicas), spawn.Queue()
    processes = [spawn.Process(target=replica, args=(settings, jobs[i::replicas], clients, start, out))
                 for i in range(replicas)]
    for process in processes:
        process.start()
    spans = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return commands / (max(end for _, end in spans) - min(began for began, _ in spans))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=400)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="concurrent commands per replica")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL (a schema is made in it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        schema = f"bench_{uuid.uuid4().hex[:10]}" if args.postgres else ""
        engine = sa.create_engine(sa.make_url(args.postgres).set(drivername="postgresql+psycopg")) \
            if args.postgres else None
        if engine is not None:
            with engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = f"{args.postgres}?schema={schema}" if schema else ""
            settings = Settings(data_dir=Path(folder) / "data", database_url=url,
                                token_secret="bench-" + "x" * 40)
            rate = measure(settings, args.commands, args.replicas, args.clients)
        finally:
            if engine is not None:
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                engine.dispose()
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"register a person: {args.commands} commands, {args.replicas} replicas × "
          f"{args.clients} clients, {store}: {rate:.1f} commands/s")


if __name__ == "__main__":
    main()
