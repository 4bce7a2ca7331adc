"""Value types every service's commands share: strict numbers and plausible dates.

One place for the ranges (issue 18, Low): a goal due on 9999-12-31 or a meeting held on
0001-01-01 is a typing slip, not a plan, and ``capacity: true`` is not the number 1. Birth dates
have their own rule (an age a participant can have: ``services/registry/validation``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

#: Dates of the programme's work (meetings held, pairs formed, goals and roadmap deadlines):
#: nothing of it happened before the federal mentoring target model (2019) by much, and no plan
#: reaches past the end of the century.
EARLIEST_WORK_DATE = date(2000, 1, 1)
LATEST_WORK_DATE = date(2099, 12, 31)


class ImplausibleDate(ValueError):
    """Shaped like the registry's ``ValidationProblem`` so ``shared.web`` reports its own code
    and Russian message instead of pydantic's English one."""

    code = "IMPLAUSIBLE_DATE"

    def __init__(self, value: date) -> None:
        self.message_ru = (f"Дата {value:%d.%m.%Y} вне допустимого диапазона: укажите дату "
                           f"с {EARLIEST_WORK_DATE:%d.%m.%Y} по {LATEST_WORK_DATE:%d.%m.%Y}")
        self.field = ""
        super().__init__(self.message_ru)


def check_work_date(value: date) -> date:
    if not EARLIEST_WORK_DATE <= value <= LATEST_WORK_DATE:
        raise ImplausibleDate(value)
    return value


#: A date of the programme's work, refused outside ``EARLIEST_WORK_DATE``…``LATEST_WORK_DATE``.
WorkDate = Annotated[date, AfterValidator(check_work_date)]

def _a_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "нужно целое число")
    return value


#: An integer that must arrive as a JSON number: ``true`` or ``"3"`` is refused, not read as 1
#: or 3; ``2.5`` is refused too. ``2.0`` is taken as 2: JSON Schema's ``integer`` (what the
#: OpenAPI document says) is any number without a fractional part, and clients may send it so.
Whole = Annotated[int, BeforeValidator(_a_number)]
