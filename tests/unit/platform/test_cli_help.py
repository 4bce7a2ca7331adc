"""Every ``nastavnik`` command and sub-command explains itself in Russian without failing."""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from services import cli
from services.cli import app

CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path, the groups' sub-commands too (typer's groups list ``commands``)."""
    paths = [path]
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            paths += command_paths(sub, (*path, name))
    return paths


ROOT = typer.main.get_command(app)
PATHS = command_paths(ROOT)


def test_the_tree_holds_the_product_and_the_tools() -> None:
    names = {path[0] for path in PATHS if path}
    assert {"up", "serve", "token", "events", "relay", "demo", "audit", "roadmap", "monitoring",
            "bench", "nats-auth"} <= names
    assert len(PATHS) > len(names)  # the groups' sub-commands are walked too


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "nastavnik")
def test_help_renders_in_russian(path: tuple[str, ...]) -> None:
    command = ROOT
    for name in path:
        command = command.commands[name]
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="nastavnik")
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    assert CYRILLIC.search(command.help or ""), f"{path}: no Russian description"
    assert CYRILLIC.search(result.output), result.output


def test_a_tool_that_is_not_installed_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service image holds neither the benchmarks nor the deployment tooling."""
    absent = EntryPoint("absent", "nastavnik_absent_tool.cli:command", cli.COMMAND_PLUGINS)
    monkeypatch.setattr(cli, "entry_points", lambda group: [absent] if group == cli.COMMAND_PLUGINS else [])
    bare = typer.Typer()
    cli.add_plugins(bare)
    assert bare.registered_commands == [] and bare.registered_groups == []
