"""Pure validators for people data entered by school curators.

Every validator either returns a normalised value or raises
:class:`ValidationProblem` with a machine-readable ``code``, a Russian
``message_ru`` written for a school curator and the ``field`` it concerns.
Nothing here touches the database, the clock or the network: "today" is always
passed in, so the same input gives the same answer in tests, in the import
preview and when events are replayed.

  * ``text``   — the problem, the bounds, text as typed;
  * ``names``  — ФИО;
  * ``dates``  — dates and ages;
  * ``fields`` — СНИЛС, class, phone, e-mail, yes/no, capacity.
"""

from services.registry.validation.dates import age_on, is_minor, parse_birth_date, parse_date
from services.registry.validation.fields import (
    SchoolClass,
    parse_capacity,
    parse_class,
    parse_grade,
    parse_yes_no,
    snils_checksum,
    validate_email,
    validate_phone,
    validate_snils,
)
from services.registry.validation.names import FullName, parse_full_name, parse_full_name_parts
from services.registry.validation.text import (
    ADULT_AGE,
    MAX_CAPACITY,
    MAX_LIST_ITEM_LENGTH,
    MAX_LIST_ITEMS,
    MAX_PLAUSIBLE_AGE,
    MIN_CAPACITY,
    MIN_PLAUSIBLE_AGE,
    ValidationProblem,
    normalise_text,
)

__all__ = [
    "ADULT_AGE",
    "MAX_CAPACITY",
    "MAX_LIST_ITEMS",
    "MAX_LIST_ITEM_LENGTH",
    "MAX_PLAUSIBLE_AGE",
    "MIN_CAPACITY",
    "MIN_PLAUSIBLE_AGE",
    "FullName",
    "SchoolClass",
    "ValidationProblem",
    "age_on",
    "is_minor",
    "normalise_text",
    "parse_birth_date",
    "parse_capacity",
    "parse_class",
    "parse_date",
    "parse_full_name",
    "parse_full_name_parts",
    "parse_grade",
    "parse_yes_no",
    "snils_checksum",
    "validate_email",
    "validate_phone",
    "validate_snils",
]
