"""``nastavnik bench``: offered by the benchmarks through the ``nastavnik.commands`` entry point
group (pyproject.toml), so that the product's command never imports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.suite import SCALES, report, run


def bench_command(scale: Annotated[str, typer.Option(help="small | municipality | region")] = "small",
                  backend: Annotated[str, typer.Option(help="sqlite | postgres")] = "sqlite",
                  json_file: Annotated[Path | None,
                                       typer.Option("--json", help="Куда записать цифры")] = None,
                  postgres_url: Annotated[str, typer.Option(
                      envvar=["NASTAVNIK_BENCH_POSTGRES_URL", "NASTAVNIK_TEST_POSTGRES_URL"],
                      help="PostgreSQL для --backend postgres (в нём создаётся и удаляется схема)")] = ""
                  ) -> None:
    """Измерить систему: настоящие NATS, хранилища и сервисы в отдельных процессах."""
    if scale not in SCALES or backend not in ("sqlite", "postgres"):
        raise typer.BadParameter("масштаб small|municipality|region, хранилище sqlite|postgres")
    result = run(scale, backend, progress=typer.echo, postgres_url=postgres_url)
    typer.echo(report(result))
    if json_file:
        json_file.write_text(json.dumps(result, ensure_ascii=False, indent=2))
