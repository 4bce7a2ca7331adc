"""The Russian alphabetical order for names and titles (PyICU cannot be installed everywhere the
portal runs, so a small key does what ICU's Russian collation does for names):

- letters compare case-insensitively, «ё» as «е» (a tie keeps «е» before «ё»);
- the Cyrillic alphabet comes before the Latin one, digits before letters;
- spaces, hyphens and punctuation only separate words: «Иванова-Петрова» sorts with «Иванова Петрова».
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_RUSSIAN = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
#: Each letter's place: digits, then Cyrillic, then Latin; anything else after them all.
_PLACE = {**{d: i for i, d in enumerate("0123456789")},
          **{c: 10 + i for i, c in enumerate(_RUSSIAN)},
          **{c: 10 + len(_RUSSIAN) + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}}
_OTHER = 1000
_SEPARATORS = frozenset(" -‐–—'’.,()\u00a0")


def ru_key(text: str | None) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """The sort key of ``text``: primary (letters, «ё» = «е»), then «е» before «ё», then the
    text itself so that equal keys still sort the same way every time. None sorts last."""
    if text is None:
        return ((_OTHER + 1,), (), "")
    folded = text.casefold()
    primary: list[int] = []
    secondary: list[int] = []
    for char in folded:
        if char in _SEPARATORS:
            # a word boundary sorts before any letter: «Ли Анна» before «Лиана»
            if primary and primary[-1] != -1:
                primary.append(-1)
            continue
        base = "е" if char == "ё" else char
        primary.append(_PLACE.get(base, _OTHER + ord(base)))
        secondary.append(1 if char == "ё" else 0)
    while primary and primary[-1] == -1:
        primary.pop()
    return (tuple(primary), tuple(secondary), text)


def ru_sorted(items: Iterable[T], key: Callable[[T], str | None] | None = None) -> list[T]:
    """``items`` in the Russian alphabetical order of ``key(item)`` (the item itself by default)."""
    pick: Callable[[Any], str | None] = key or (lambda item: item)
    return sorted(items, key=lambda item: ru_key(pick(item)))
