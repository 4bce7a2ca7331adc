"""``nastavnik roadmap ...``: read a roadmap (дорожная карта) from a DOCX or a text export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from services.documents.roadmap import RoadmapParseError, parse_roadmap_file

roadmap_app = typer.Typer(help="Дорожные карты: разбор документов Word и текстовых выгрузок",
                          no_args_is_help=True)


@roadmap_app.command("parse")
def parse(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                               help="Файл .docx или текстовая выгрузка")],
          output: Annotated[Literal["json", "text"], typer.Option(
              "--format", help="json — для программ, text — для чтения")] = "json") -> None:
    """Разобрать дорожную карту: заголовок, период, мероприятия со сроками."""
    try:
        roadmap = parse_roadmap_file(file)
    except RoadmapParseError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    if output == "json":
        typer.echo(json.dumps(roadmap.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{roadmap.title}\nПериод: {roadmap.period.start:%d.%m.%Y} — {roadmap.period.end:%d.%m.%Y}")
    for item in roadmap.items:
        dates = ", ".join(f"{d:%d.%m.%Y}" for d in item.due_dates) or "—"
        flag = " (постоянно)" if item.continuous else ""
        typer.echo(f"{item.number or '-':>7} {item.activity[:70]} | {item.deadline_text} → {dates}{flag}")
