"""Logs a person can read at a terminal, JSON lines for machines."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import orjson
import pytest

from shared.logging import configure_logging, get_logger, readable
from shared.settings import Settings


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    configure_logging("INFO", "json")  # bound to the real stderr again


@pytest.mark.parametrize(("log_format", "terminal", "expected"), [
    ("auto", True, True), ("auto", False, False),
    ("json", True, False), ("json", False, False),
    ("console", True, True), ("console", False, True),
])
def test_the_format_follows_the_setting_and_the_terminal(log_format: str, terminal: bool,
                                                         expected: bool) -> None:
    assert readable(log_format, Stream(terminal)) is expected


def test_json_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Stream(terminal=False)
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", "auto")
    get_logger("test").info("relay.started", source="registry")
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "relay.started" and line["source"] == "registry"
    assert line["level"] == "info"


def test_readable_lines_on_a_terminal_and_routine_events_below_info(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Stream(terminal=True)
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", "auto")
    log = get_logger("test")
    log.debug("relay.published", count=3)
    log.info("host.started", services=["registry"])
    text = stream.getvalue()
    assert "relay.published" not in text
    assert "host.started" in text and not text.lstrip().startswith("{")


def test_the_format_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_LOG_FORMAT", "console")
    assert Settings().log_format == "console"
    monkeypatch.setenv("NASTAVNIK_LOG_FORMAT", "xml")
    with pytest.raises(ValueError):
        Settings()
