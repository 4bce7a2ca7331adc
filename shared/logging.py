"""Structured logs with the correlation id and actor of the work being done.

JSON lines for machines (a file, a log collector: whenever stderr is not a terminal), readable
lines for a person at a terminal; ``NASTAVNIK_LOG_FORMAT`` (auto | json | console) decides
otherwise. Personal data never reaches a log: only ids, codes and counts are ever bound or logged.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars

__all__ = ["LogFormat", "bind_contextvars", "clear_contextvars", "configure_logging", "get_logger",
           "readable"]

LogFormat = Literal["auto", "json", "console"]


def readable(log_format: str, stream: TextIO) -> bool:
    """Whether to write for a person: asked for, or ``auto`` and the stream is a terminal."""
    if log_format == "auto":
        return stream.isatty()
    return log_format == "console"


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    processors: list[Any] = [structlog.contextvars.merge_contextvars,
                             structlog.processors.add_log_level]
    if readable(log_format, sys.stderr):
        # The console renderer prints tracebacks itself; a person reads local clock time.
        processors += [structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
                       structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    else:
        processors += [structlog.processors.TimeStamper(fmt="iso", utc=True),
                       structlog.processors.format_exc_info,
                       structlog.processors.JSONRenderer(ensure_ascii=False)]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # One line per HTTP call the demo loader makes would drown the useful lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
