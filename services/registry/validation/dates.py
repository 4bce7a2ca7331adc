"""Dates as spreadsheets hold them (Excel serials, ДД.ММ.ГГГГ, ISO), and ages."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from services.registry.validation.text import (
    ADULT_AGE,
    MAX_PLAUSIBLE_AGE,
    MIN_PLAUSIBLE_AGE,
    ValidationProblem,
    normalise_text,
    shown,
)

# Excel's 1900 date system counts 1900-02-29, a day that never existed, so
# serials from 61 on are offset by one relative to a plain day count.
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_MAX_SERIAL = 2_958_465  # 31.12.9999
_DMY_RE = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})")
_YMD_RE = re.compile(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})")
# CSV exports often append midnight to a date: "2010-05-01 00:00:00".
_TIME_SUFFIX_RE = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")

_DATE_LABELS = {"birth_date": "Дата рождения"}


def _date_label(field: str) -> str:
    return _DATE_LABELS.get(field, "Дата")


def _from_excel_serial(serial: float, original: Any, field: str) -> date:
    whole = math.floor(serial)
    if not 1 <= whole <= _EXCEL_MAX_SERIAL:
        raise ValidationProblem(
            "INVALID_DATE",
            f"«{shown(original)}» не похоже на дату. Укажите дату в виде ДД.ММ.ГГГГ.",
            field,
        )
    if whole == 60:
        raise ValidationProblem(
            "INVALID_DATE", "Даты 29.02.1900 не существует: 1900 год не високосный.", field
        )
    if whole < 60:
        return date(1899, 12, 31) + timedelta(days=whole)
    return _EXCEL_EPOCH + timedelta(days=whole)


def _build_date(year: int, month: int, day: int, original: Any, field: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationProblem(
            "INVALID_DATE",
            f"{_date_label(field)} «{shown(original)}» не существует — проверьте день и месяц.",
            field,
        ) from None


def parse_date(value: Any, field: str = "date", today: date | None = None) -> date:
    """Parse a date from a spreadsheet cell.

    Accepts ``date``/``datetime`` (openpyxl), Excel serial numbers, and text
    ``дд.мм.гггг``, ``д.м.гггг``, ``гггг-мм-дд``, ``дд/мм/гггг``. With ``today``
    given, a date in the future is reported as implausible.
    """
    if isinstance(value, bool) or value is None:
        raise ValidationProblem("INVALID_DATE", f"Не заполнено поле «{_date_label(field)}».", field)
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValidationProblem("INVALID_DATE", "Значение не похоже на дату.", field)
        result = _from_excel_serial(value, value, field)
    else:
        text = normalise_text(value)
        if not text:
            raise ValidationProblem("INVALID_DATE", f"Не заполнено поле «{_date_label(field)}».", field)
        text = _TIME_SUFFIX_RE.sub("", text).replace(" ", "")
        if m := _YMD_RE.fullmatch(text):
            year, month, day = int(m[1]), int(m[2]), int(m[3])
            result = _build_date(year, month, day, value, field)
        elif m := _DMY_RE.fullmatch(text):
            if len(m[3]) != 4:
                raise ValidationProblem(
                    "INVALID_DATE",
                    f"В дате «{shown(value)}» укажите год четырьмя цифрами, например 05.09.2012.",
                    field,
                )
            result = _build_date(int(m[3]), int(m[2]), int(m[1]), value, field)
        elif re.fullmatch(r"\d{5}(?:\.\d+)?", text):
            # A CSV saved from Excel may carry the raw serial of a date cell.
            # Only five digits are accepted so a bare year such as "2010"
            # is not silently read as a day in 1905.
            result = _from_excel_serial(float(text), value, field)
        else:
            raise ValidationProblem(
                "INVALID_DATE",
                f"Не удалось распознать дату «{shown(value)}». Укажите её в виде ДД.ММ.ГГГГ, "
                "например 05.09.2012.",
                field,
            )
    if today is not None and result > today:
        raise ValidationProblem(
            "IMPLAUSIBLE_DATE",
            f"{_date_label(field)} {result:%d.%m.%Y} ещё не наступила.",
            field,
        )
    return result


def age_on(birth_date: date, today: date) -> int:
    """Full years on ``today``.

    Someone born on 29 February turns a year older on 28 February in
    non-leap years: a term counted in years ends on the last day of the month
    when that month has no such date (ГК РФ, ст. 192).
    """
    try:
        birthday = birth_date.replace(year=today.year)
    except ValueError:
        birthday = date(today.year, 2, 28)
    years = today.year - birth_date.year
    return years if today >= birthday else years - 1


def is_minor(birth_date: date, today: date) -> bool:
    return age_on(birth_date, today) < ADULT_AGE


def parse_birth_date(
    value: Any,
    today: date,
    field: str = "birth_date",
    *,
    min_age: int = MIN_PLAUSIBLE_AGE,
    max_age: int = MAX_PLAUSIBLE_AGE,
) -> date:
    """Parse a birth date and reject ages no participant can have."""
    born = parse_date(value, field, today)
    age = age_on(born, today)
    if age < min_age:
        raise ValidationProblem(
            "IMPLAUSIBLE_DATE",
            f"Дата рождения {born:%d.%m.%Y} означает возраст {age} лет — участнику должно "
            f"быть не меньше {min_age} лет. Проверьте год рождения.",
            field,
        )
    if age > max_age:
        raise ValidationProblem(
            "IMPLAUSIBLE_DATE",
            f"Дата рождения {born:%d.%m.%Y} означает возраст {age} лет — это больше "
            f"{max_age}. Проверьте год рождения.",
            field,
        )
    return born
