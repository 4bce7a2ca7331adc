"""СНИЛС, school class, phone, e-mail, yes/no and a mentor's capacity."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from services.registry.validation.text import (
    DASHES,
    MAX_CAPACITY,
    MIN_CAPACITY,
    ValidationProblem,
    normalise_text,
    shown,
)

# --------------------------------------------------------------------------- СНИЛС


def snils_checksum(first_nine: str) -> int:
    """Control number of a СНИЛС per the Pension Fund (СФР) algorithm."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("expected exactly 9 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    remainder = total % 101
    return 0 if remainder == 100 else remainder


# Numbers up to 001-001-998 were issued before the checksum rule existed, so
# their control digits are arbitrary and must not be checked.
_SNILS_UNCHECKED_MAX = 1_001_998


def validate_snils(value: Any, field: str = "snils") -> str:
    """Validate a СНИЛС and return it as ``"123-456-789 01"``."""
    if isinstance(value, bool):
        raise ValidationProblem("INVALID_SNILS", "СНИЛС указан неверно.", field)
    if isinstance(value, int | float):
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise ValidationProblem(
                "INVALID_SNILS", "СНИЛС должен состоять из 11 цифр, например 112-233-445 95.", field
            )
        # A СНИЛС typed into a numeric cell loses its leading zeros in Excel.
        digits = str(int(value)).zfill(11)
    else:
        text = normalise_text(value)
        if not re.fullmatch(r"[\d\s-]+", text):
            raise ValidationProblem(
                "INVALID_SNILS",
                f"СНИЛС «{shown(value)}» содержит посторонние символы. "
                "Укажите 11 цифр, например 112-233-445 95.",
                field,
            )
        digits = re.sub(r"\D", "", text)
    if len(digits) != 11:
        hint = ""
        if 9 <= len(digits) < 11 and not isinstance(value, int | float):
            hint = (
                " Если в начале номера были нули, Excel мог их удалить — "
                "задайте столбцу «СНИЛС» текстовый формат."
            )
        raise ValidationProblem(
            "INVALID_SNILS",
            f"СНИЛС должен содержать 11 цифр, а в «{shown(value)}» их {len(digits)}.{hint}",
            field,
        )
    number, control = digits[:9], int(digits[9:])
    if int(number) == 0:
        raise ValidationProblem("INVALID_SNILS", "СНИЛС не может состоять из одних нулей.", field)
    if int(number) > _SNILS_UNCHECKED_MAX and snils_checksum(number) != control:
        raise ValidationProblem(
            "INVALID_SNILS",
            f"СНИЛС «{shown(value)}» указан с ошибкой: не сходится контрольное число. "
            "Сверьте номер с документом.",
            field,
        )
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


# --------------------------------------------------------------------------- класс


@dataclass(frozen=True, slots=True)
class SchoolClass:
    grade: int
    letter: str | None = None


# A curator on a Latin keyboard layout types "7A" meaning "7А"; these are the
# letters that look identical, so mapping them is what the curator meant.
_LATIN_TO_CYRILLIC = str.maketrans("ABEKMHOPCTXaekmopcx", "АВЕКМНОРСТХаекморсх")
_CLASS_RE = re.compile(r"(\d{1,2})\s*-?\s*[\"«“„'”»]?\s*([А-ЯЁа-яё])?\s*[\"»”“'«]?", re.IGNORECASE)
_GRADE_MESSAGE = "Класс должен быть от 1 до 11"


def parse_class(value: Any, field: str = "grade") -> SchoolClass:
    """Parse "7", "7А", "7 «Б»", "7-Б", "7 класс" into number and letter."""
    if isinstance(value, bool):
        raise ValidationProblem("INVALID_GRADE", f"{_GRADE_MESSAGE}.", field)
    if isinstance(value, int | float):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValidationProblem("INVALID_GRADE", f"{_GRADE_MESSAGE}, а указано «{shown(value)}».", field)
        grade, letter = int(value), None
    else:
        text = normalise_text(value).translate(DASHES).translate(_LATIN_TO_CYRILLIC)
        text = re.sub(r"\s*(класс|кл\.?)\s*", " ", text, flags=re.IGNORECASE).strip()
        match = _CLASS_RE.fullmatch(text)
        if not match:
            raise ValidationProblem(
                "INVALID_GRADE",
                f"Не удалось распознать класс «{shown(value)}». {_GRADE_MESSAGE}, "
                "при необходимости с буквой, например «7» или «7А».",
                field,
            )
        grade = int(match[1])
        letter = match[2].upper() if match[2] else None
    if not 1 <= grade <= 11:
        raise ValidationProblem("INVALID_GRADE", f"{_GRADE_MESSAGE}, а указано «{shown(value)}».", field)
    return SchoolClass(grade, letter)


def parse_grade(value: Any, field: str = "grade") -> int:
    return parse_class(value, field).grade


# --------------------------------------------------------------------------- contacts


def validate_phone(value: Any, field: str = "phone") -> str | None:
    """Normalise a Russian phone number to ``+7XXXXXXXXXX``; empty → ``None``."""
    if isinstance(value, bool):
        raise ValidationProblem("INVALID_PHONE", "Телефон указан неверно.", field)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValidationProblem("INVALID_PHONE", "Телефон указан неверно.", field)
    text = normalise_text(value)
    if not text:
        return None
    if not re.fullmatch(r"\+?[\d\s().-]+", text):
        raise ValidationProblem(
            "INVALID_PHONE",
            f"Телефон «{shown(value)}» содержит посторонние символы. "
            "Укажите один номер, например +7 912 345-67-89.",
            field,
        )
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] in "78" and not (text.startswith("+") and digits[0] == "8"):
        national = digits[1:]
    elif len(digits) == 10 and not text.startswith("+"):
        national = digits
    else:
        raise ValidationProblem(
            "INVALID_PHONE",
            f"Не удалось распознать номер «{shown(value)}». Укажите российский номер "
            "из 10 цифр после +7 или 8, например +7 912 345-67-89.",
            field,
        )
    return f"+7{national}"


_EMAIL_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EMAIL_LABEL_RE = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")


def validate_email(value: Any, field: str = "email") -> str | None:
    """Check an e-mail address shape; empty → ``None``. Domain is lower-cased."""
    text = normalise_text(value)
    if not text:
        return None
    problem = ValidationProblem(
        "INVALID_EMAIL",
        f"Адрес электронной почты «{shown(value)}» указан неверно. "
        "Пример правильного адреса: ivanova@school.ru.",
        field,
    )
    if len(text) > 254 or text.count("@") != 1 or " " in text:
        raise problem
    local, domain = text.split("@")
    labels = domain.split(".")
    if (
        not 1 <= len(local) <= 64
        or not _EMAIL_LOCAL_RE.fullmatch(local)
        or len(labels) < 2
        or not all(_EMAIL_LABEL_RE.fullmatch(label) and "_" not in label for label in labels)
        or labels[-1].isdigit()
    ):
        raise problem
    return f"{local}@{domain.lower()}"


# --------------------------------------------------------------------------- misc fields

_YES = frozenset(
    {
        "да",
        "д",
        "yes",
        "y",
        "true",
        "1",
        "+",
        "v",
        "✓",
        "✔",
        "согласен",
        "согласна",
        "согласие получено",
        "получено",
        "есть",
        "имеется",
        "дано",
    }
)
_NO = frozenset(
    {
        "нет",
        "н",
        "no",
        "n",
        "false",
        "0",
        "-",
        "не получено",
        "отсутствует",
        "не согласен",
        "не согласна",
        "не дано",
    }
)


def parse_yes_no(value: Any, field: str) -> bool:
    """Read a «да/нет» cell; empty means «нет» (consent is never assumed)."""
    if isinstance(value, bool):
        return value
    text = normalise_text(value).casefold().replace("ё", "е").rstrip(".!")
    if not text:
        return False
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationProblem("INVALID_YES_NO", f"Укажите «да» или «нет», а не «{shown(value)}».", field)


def parse_capacity(value: Any, field: str = "capacity") -> int:
    """How many mentees a mentor takes; empty means the default of one."""
    message = (
        f"Количество наставляемых должно быть целым числом от {MIN_CAPACITY} до {MAX_CAPACITY}, "
        f"а указано «{shown(value)}»."
    )
    if isinstance(value, bool):
        raise ValidationProblem("INVALID_CAPACITY", message, field)
    if isinstance(value, int | float):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValidationProblem("INVALID_CAPACITY", message, field)
        number = int(value)
    else:
        text = normalise_text(value)
        if not text:
            return MIN_CAPACITY
        if not re.fullmatch(r"\d{1,3}", text):
            raise ValidationProblem("INVALID_CAPACITY", message, field)
        number = int(text)
    if not MIN_CAPACITY <= number <= MAX_CAPACITY:
        raise ValidationProblem("INVALID_CAPACITY", message, field)
    return number
