"""``nastavnik roadmap parse FILE --format json``: the parser's result, exactly, on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.documents.roadmap import parse_roadmap_file
from tests.conftest import FIELD_ROADMAPS

SAMPLES = FIELD_ROADMAPS
runner = CliRunner()


def test_parse_prints_the_roadmap_as_json() -> None:
    sample = SAMPLES / "smolensk-2022-2024.txt"
    result = runner.invoke(app, ["roadmap", "parse", str(sample), "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == parse_roadmap_file(sample).to_dict()
    assert set(printed) == {"title", "period", "items"}
    assert set(printed["items"][0]) == {"section", "number", "activity", "result", "responsible",
                                        "deadline_text", "due_dates", "continuous"}


def test_text_format_and_unreadable_files(tmp_path: Path) -> None:
    sample = SAMPLES / "spassky-ct-2023-2024.txt"
    text = runner.invoke(app, ["roadmap", "parse", str(sample), "--format", "text"])
    assert text.exit_code == 0 and "Период: 01.01.2023 — 31.12.2024" in text.stdout
    notes = tmp_path / "notes.txt"
    notes.write_text("Просто заметки.", encoding="utf-8")
    failed = runner.invoke(app, ["roadmap", "parse", str(notes)])
    assert failed.exit_code == 1 and "Ошибка:" in failed.stderr
    missing = runner.invoke(app, ["roadmap", "parse", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2
