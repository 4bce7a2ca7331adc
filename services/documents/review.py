"""The review of a parsed roadmap before anything is tracked (issue 22).

The parse is shown as it came out, with what the parser was unsure of (``doubts``); the user
corrects it and confirms with the same file. The confirmed items are compared with a fresh parse
of that file here, on the server, so the corrections recorded are what the user really changed
(``reviewed_entries``): each entry keeps the names of its corrected fields and the parser's own
values, and the roadmap keeps the list of corrected items (ids and field names only).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.documents.roadmap import Period, Roadmap, RoadmapItem
from services.documents.roadmap.deadlines import looks_like_deadline
from shared.errors import DomainError
from shared.inputs import StrippedInput

#: What the user may correct, in the order the review table shows them.
REVIEWED_FIELDS = ("section", "activity", "due_dates", "continuous", "responsible", "result")
#: An activity longer than this is likely several cells read as one.
LONG_ACTIVITY = 600


class ReviewedItemIn(StrippedInput):
    """One item as the user confirmed it (in the order of the parse)."""

    section: str | None = Field(default=None, max_length=1000)
    activity: str = Field(min_length=1, max_length=5000)
    due_dates: list[date] = Field(default_factory=list, max_length=200)
    continuous: bool = False
    responsible: str | None = Field(default=None, max_length=2000)
    result: str | None = Field(default=None, max_length=5000)


class RoadmapReviewIn(BaseModel):
    """The reviewed parse: the SHA-256 of the file that was previewed, and every item."""

    model_config = ConfigDict(extra="forbid")

    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    items: list[ReviewedItemIn] = Field(min_length=1, max_length=2000)

    @classmethod
    def from_json(cls, text: str) -> RoadmapReviewIn:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise DomainError("ROADMAP_REVIEW_INVALID",
                              "Проверенные мероприятия переданы неверно: "
                              + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                          for e in exc.errors()[:5]), 422) from exc


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doubts(item: RoadmapItem, period: Period) -> list[dict[str, str]]:
    """What the parser was unsure of in one item: the field, a code and the reason in Russian."""
    found: list[dict[str, str]] = []

    def doubt(field: str, code: str, message: str) -> None:
        found.append({"field": field, "code": code, "message": message})

    text = item.deadline_text.strip()
    if not item.due_dates and not item.continuous:
        if not text:
            doubt("due_dates", "NO_DEADLINE", "Срок не указан")
        elif looks_like_deadline(text):
            doubt("due_dates", "DEADLINE_PARTLY_READ",
                  f"Срок «{text[:80]}» прочитан не полностью: дата не найдена")
        else:
            doubt("due_dates", "DEADLINE_UNREAD", f"Срок «{text[:80]}» не распознан")
    outside = [d for d in item.due_dates if not period.contains(d)]
    if outside:
        doubt("due_dates", "DEADLINE_OUTSIDE_PERIOD",
              "Срок вне периода дорожной карты: " + ", ".join(f"{d:%d.%m.%Y}" for d in outside))
    if len(item.activity) > LONG_ACTIVITY:
        doubt("activity", "ACTIVITY_TOO_LONG",
              "Мероприятие необычно длинное: возможно, в него попали соседние ячейки")
    if not item.responsible:
        doubt("responsible", "NO_RESPONSIBLE", "Ответственный не найден")
    return found


def preview(roadmap: Roadmap, filename: str, data: bytes) -> dict[str, Any]:
    """The parse as the review shows it; nothing of it is stored."""
    return {"title": roadmap.title, "period": roadmap.period.to_dict(), "source_name": filename,
            "content_sha256": sha256(data),
            "items": [{**item.to_dict(), "unsure": doubts(item, roadmap.period)}
                      for item in roadmap.items]}


def reviewed_entries(roadmap: Roadmap, data: bytes, review: RoadmapReviewIn
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries to track, and the corrections: ``[{"item": "3", "fields": [...]}]``.

    The file must be the one previewed and the items as many as its parse gave: the review
    corrects items, it does not add or drop them.
    """
    if sha256(data) != review.content_sha256:
        raise DomainError("ROADMAP_FILE_CHANGED",
                          "Файл отличается от проверенного: загрузите его и проверьте заново", 422)
    if len(review.items) != len(roadmap.items):
        raise DomainError("ROADMAP_REVIEW_MISMATCH",
                          f"В файле {len(roadmap.items)} мероприятий, а подтверждено "
                          f"{len(review.items)}: загрузите файл и проверьте заново", 422)
    entries: list[dict[str, Any]] = []
    corrections: list[dict[str, Any]] = []
    for position, (parsed, reviewed) in enumerate(zip(roadmap.items, review.items, strict=True)):
        entry = parsed.to_dict()
        wanted = reviewed.model_dump(mode="json")
        wanted["due_dates"] = sorted(set(wanted["due_dates"]))
        for key in ("section", "responsible", "result"):
            wanted[key] = wanted[key] or None
        changed = [key for key in REVIEWED_FIELDS if wanted[key] != entry[key]]
        if changed:
            entry["parsed"] = {key: entry[key] for key in changed}
            entry["corrected"] = changed
            entry.update({key: wanted[key] for key in changed})
            if "due_dates" in changed:
                # The text read no longer says the dates: it becomes the dates the user gave.
                entry["deadline_text"] = ", ".join(
                    date.fromisoformat(d).strftime("%d.%m.%Y") for d in entry["due_dates"]
                ) or entry["deadline_text"]
            corrections.append({"item": str(position + 1), "fields": changed})
        entries.append(entry)
    return entries, corrections
