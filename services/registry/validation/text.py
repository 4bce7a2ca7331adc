"""What every validator shares: the problem it raises, the bounds it checks, text as typed."""

from __future__ import annotations

import math
from typing import Any

ADULT_AGE = 18
MIN_PLAUSIBLE_AGE = 5
MAX_PLAUSIBLE_AGE = 100
MIN_CAPACITY = 1
MAX_CAPACITY = 15
#: A mentee's requests and a mentor's competencies: short phrases («подготовка к олимпиаде»),
#: each published with the registration; bounded so one registration stays a small event.
MAX_LIST_ITEMS = 50
MAX_LIST_ITEM_LENGTH = 100


class ValidationProblem(ValueError):
    """A problem with one value, explained for a curator.

    It is an exception so validators can simply ``raise`` it, and it carries
    plain data so the importer can turn it into a row error without parsing
    strings.
    """

    def __init__(self, code: str, message_ru: str, field: str) -> None:
        super().__init__(f"{code} [{field}]: {message_ru}")
        self.code = code
        self.message_ru = message_ru
        self.field = field

    def __repr__(self) -> str:
        return f"ValidationProblem({self.code!r}, {self.message_ru!r}, {self.field!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidationProblem):
            return NotImplemented
        return (self.code, self.message_ru, self.field) == (
            other.code,
            other.message_ru,
            other.field,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message_ru, self.field))


# --------------------------------------------------------------------------- text helpers

# Spreadsheets are full of non-breaking and zero-width spaces pasted from Word
# or web forms; they are invisible to the curator, so they must not cause errors.
_INVISIBLE_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000\t\r\n"), " ")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


def normalise_text(value: Any) -> str:
    """Turn any cell value into a trimmed one-line string ("" for empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        # Excel stores every number as float; "7.0" in a message would confuse.
        return str(int(value))
    text = str(value).translate(_ZERO_WIDTH).translate(_INVISIBLE_SPACES)
    return " ".join(text.split())


def shown(value: Any, limit: int = 40) -> str:
    """The value as the curator typed it, shortened for messages."""
    text = normalise_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
