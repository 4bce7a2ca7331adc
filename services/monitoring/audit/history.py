"""The two kinds of history an audit entry answers for, and the business date it carries.

Every entry of format 2 keeps two times beside the time its event occurred:

* ``appended_at`` — when this log appended it (the log's own clock). "What did the figures show
  on T" (basis ``shown``) folds the entries appended up to T: a prefix of the log, so a later
  back-dated record never changes it.
* ``business_at`` — the date the event is about: a meeting's or a document's date (local
  midnight of that day in the region's time zone), else when the event occurred. "What was true
  on T as we know it today" (basis ``known``) folds every entry whose business date is up to T,
  whenever it was appended.

Entries of format 1 (appended before these times existed) take ``occurred_at`` for both.
No I/O here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

import orjson

Basis = Literal["shown", "known"]
BASES: tuple[Basis, ...] = ("shown", "known")

#: Event types whose payload names the date they are about, and the field that holds it.
DATED_EVENTS: dict[str, str] = {"MeetingHeld": "date", "DocumentIssued": "date"}


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of ``day`` in the region's zone, as UTC."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def business_time(event_type: str, data: bytes, occurred_at: datetime, zone: ZoneInfo) -> datetime:
    """The business date of one event: its payload's date when it carries one, else when it
    occurred. Only the few dated types are decoded, so appending stays cheap."""
    field = DATED_EVENTS.get(event_type)
    if field is not None:
        try:
            text = orjson.loads(data)["payload"][field]
            return local_midnight(date.fromisoformat(str(text)[:10]), zone)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # an event without a readable date is dated by when it occurred
    return occurred_at.astimezone(UTC) if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
