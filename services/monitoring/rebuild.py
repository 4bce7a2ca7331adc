"""``nastavnik monitoring rebuild``: every dashboard read model again from the audit log.

Fast: pages of the log are read in position order by a thread of their own while the fold
runs (the database's share of reading needs no GIL), only the events the dashboards use are
decoded (orjson, no pydantic), counts are kept in memory per organisation and written once per
commit, rolled up to every level. A commit writes every count and state row changed since the
last one, and with dates spread over a year that is most of the read model each time, so commits
are rare (every million events). Resumable: each commit records the position reached with the
``rebuilding`` mark; run again after an interruption and it carries on from there (``--restart``
starts over). While the mark is set, the running service's live tail leaves the tables alone.
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from services.monitoring.audit.feeder import AuditLog, write_engine
from services.monitoring.dashboards import DashboardProjector, read_progress
from shared.settings import Settings
from shared.store import view_engine

app = typer.Typer(help="Мониторинг: сводные показатели", no_args_is_help=True)
DEFAULT_DATA_DIR = Path(os.environ.get("NASTAVNIK_DATA_DIR", "var"))


@dataclass
class RebuildResult:
    events: int
    seconds: float
    resumed_from: int
    position: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def rebuild(settings: Settings, restart: bool = False, page: int = 20000,
            commit_every: int = 1_000_000, max_events: int | None = None,
            progress: object = None) -> RebuildResult:
    """Rebuild (or resume rebuilding) the dashboards from the audit log of ``settings``."""
    engine = write_engine(settings)
    read = view_engine(settings, "monitoring")
    try:
        audit = AuditLog.open(settings, read, signing=False)  # reads entries only: no key needed
        projector = DashboardProjector(audit.store, engine)
        with engine.connect() as conn:
            position, rebuilding = read_progress(conn)
        if restart or not rebuilding:
            projector.reset()
            position = 0
        started = time.perf_counter()
        # The fold's state grows to millions of small lists and dicts, which the cyclic garbage
        # collector would scan again and again (a sixth of the time); nothing it makes is cyclic.
        collecting = gc.isenabled()
        gc.disable()
        try:
            done = projector.catch_up(page=page, commit_every=commit_every, rebuilding=True,
                                      max_events=max_events,
                                      progress=progress if callable(progress) else None)
        finally:
            if collecting:
                gc.enable()
        seconds = time.perf_counter() - started
        finished = max_events is None or done < max_events
        if finished:
            projector.finish_rebuild()
        return RebuildResult(done, seconds, position, projector.position or 0)
    finally:
        engine.dispose()
        read.dispose()


@app.command("rebuild")
def rebuild_command(
        data_dir: Annotated[Path, typer.Option("--data-dir", help="Папка данных")] = DEFAULT_DATA_DIR,
        restart: Annotated[bool, typer.Option("--restart", help="Начать заново, а не продолжить "
                                                                 "прерванную пересборку")] = False,
        limit: Annotated[int | None, typer.Option(help="Остановиться после стольких событий "
                                                       "(продолжить — запустить снова)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Вывести JSON")] = False) -> None:
    """Пересобрать все сводные показатели из журнала аудита (с продолжением после прерывания)."""
    result = rebuild(Settings(data_dir=data_dir), restart=restart, max_events=limit,
                     progress=None if as_json else lambda n: typer.echo(f"  обработано событий: {n}"))
    if as_json:
        typer.echo(json.dumps({"events": result.events, "seconds": round(result.seconds, 3),
                               "events_per_s": round(result.events_per_s),
                               "resumed_from": result.resumed_from, "position": result.position}))
        return
    start = f" (продолжено с позиции {result.resumed_from})" if result.resumed_from else ""
    typer.echo(f"Пересобрано событий: {result.events}{start} за {result.seconds:.2f} с "
               f"({result.events_per_s:,.0f} событий/с); позиция журнала {result.position}")
