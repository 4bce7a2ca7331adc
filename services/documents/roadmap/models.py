"""Value objects produced by the roadmap (дорожная карта) parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


class RoadmapParseError(ValueError):
    """The document cannot be read as a roadmap; the message is shown to the user (in Russian).

    ``code`` and ``status`` are what the HTTP answer carries: 422 for a file that is no readable
    roadmap, 413 for one too large to read within the parser's bounds.
    """

    def __init__(self, message: str, code: str = "ROADMAP_UNREADABLE", status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Period:
    """Inclusive date range the roadmap covers."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise RoadmapParseError(
                f"Период дорожной карты задан неверно: {self.start:%d.%m.%Y} позже {self.end:%d.%m.%Y}"
            )

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class RoadmapItem:
    """One activity (мероприятие) of the roadmap."""

    activity: str
    deadline_text: str
    due_dates: tuple[date, ...] = ()
    continuous: bool = False
    section: str | None = None
    number: str | None = None
    result: str | None = None
    responsible: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "number": self.number,
            "activity": self.activity,
            "result": self.result,
            "responsible": self.responsible,
            "deadline_text": self.deadline_text,
            "due_dates": [day.isoformat() for day in self.due_dates],
            "continuous": self.continuous,
        }


@dataclass(frozen=True)
class Roadmap:
    """A parsed roadmap: its title, the period it covers and its activities in document order."""

    title: str
    period: Period
    items: tuple[RoadmapItem, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "period": self.period.to_dict(),
            "items": [item.to_dict() for item in self.items],
        }
