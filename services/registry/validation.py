"""Pure validators for people data entered by school curators.

Every validator either returns a normalised value or raises
:class:`ValidationProblem` with a machine-readable ``code``, a Russian
``message_ru`` written for a school curator and the ``field`` it concerns.
Nothing here touches the database, the clock or the network: "today" is always
passed in, so the same input gives the same answer in tests, in the import
preview and when events are replayed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
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
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


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


def _shown(value: Any, limit: int = 40) -> str:
    """The value as the curator typed it, shortened for messages."""
    text = normalise_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
                f"СНИЛС «{_shown(value)}» содержит посторонние символы. "
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
            f"СНИЛС должен содержать 11 цифр, а в «{_shown(value)}» их {len(digits)}.{hint}",
            field,
        )
    number, control = digits[:9], int(digits[9:])
    if int(number) == 0:
        raise ValidationProblem("INVALID_SNILS", "СНИЛС не может состоять из одних нулей.", field)
    if int(number) > _SNILS_UNCHECKED_MAX and snils_checksum(number) != control:
        raise ValidationProblem(
            "INVALID_SNILS",
            f"СНИЛС «{_shown(value)}» указан с ошибкой: не сходится контрольное число. "
            "Сверьте номер с документом.",
            field,
        )
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


# --------------------------------------------------------------------------- ФИО


@dataclass(frozen=True, slots=True)
class FullName:
    last: str
    first: str
    middle: str | None = None

    def __str__(self) -> str:
        return " ".join(part for part in (self.last, self.first, self.middle) if part)

    @property
    def key(self) -> str:
        """Comparison key: case- and «ё»-insensitive, as people write both ways."""
        return str(self).casefold().replace("ё", "е")


# Turkic patronymics are written as two words ("Ахмед оглы"); without this a
# valid ФИО of four words would be rejected.
_PATRONYMIC_SUFFIXES = frozenset({"оглы", "кызы", "улы", "уулу", "угли", "гызы", "кизи"})
_CYRILLIC = "А-Яа-яЁё"
_LATIN_RE = re.compile(r"[A-Za-z]")
_CYR_RE = re.compile(f"[{_CYRILLIC}]")
_WORD_RE = re.compile(f"[{_CYRILLIC}]+(?:['’][{_CYRILLIC}]+)?(?:-[{_CYRILLIC}]+(?:['’][{_CYRILLIC}]+)?)*")
_MAX_WORD_LENGTH = 60

_FIELD_LABELS = {
    "full_name": "ФИО",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "guardian_name": "ФИО законного представителя",
}


def _fix_case(part: str) -> str:
    # Only all-caps or all-lower parts are re-cased; mixed case such as
    # "МакКартни" is presumably deliberate and is kept.
    if part.isupper() or part.islower():
        return part[:1].upper() + part[1:].lower()
    return part


def _normalise_word(word: str) -> str:
    if word.casefold() in _PATRONYMIC_SUFFIXES:
        return word.lower()
    return "-".join(_fix_case(part) for part in word.split("-"))


def _check_name_text(text: str, original: Any, field: str) -> None:
    label = _FIELD_LABELS.get(field, "ФИО")
    if any(ch.isdigit() for ch in text):
        raise ValidationProblem(
            "INVALID_NAME", f"Поле «{label}» не должно содержать цифр: «{_shown(original)}».", field
        )
    latin = sorted(set(_LATIN_RE.findall(text)))
    if latin and _CYR_RE.search(text):
        raise ValidationProblem(
            "INVALID_NAME",
            f"В поле «{label}» («{_shown(original)}») есть латинские буквы "
            f"({', '.join(latin)}), похожие на русские. Замените их на русские.",
            field,
        )
    if latin:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Поле «{label}» нужно заполнить русскими буквами, как в документе: «{_shown(original)}».",
            field,
        )
    if "." in text:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Укажите {label} полностью, без инициалов и сокращений: «{_shown(original)}».",
            field,
        )


def _split_words(text: str, original: Any, field: str) -> list[str]:
    label = _FIELD_LABELS.get(field, "ФИО")
    # "Римский - Корсаков" is the same double surname as "Римский-Корсаков".
    text = re.sub(r"\s*-\s*", "-", text.translate(_DASHES))
    words = text.split()
    for word in words:
        if not _WORD_RE.fullmatch(word):
            bad = sorted({ch for ch in word if not (_CYR_RE.match(ch) or ch in "-'’")})
            detail = f"недопустимые символы ({' '.join(bad)})" if bad else "лишний дефис"
            raise ValidationProblem(
                "INVALID_NAME",
                f"В поле «{label}» («{_shown(original)}») {detail}. Допустимы русские буквы, дефис и пробел.",
                field,
            )
        if len(word) > _MAX_WORD_LENGTH:
            raise ValidationProblem("INVALID_NAME", f"Слишком длинное слово в поле «{label}».", field)
    return words


def parse_full_name(text: Any, field: str = "full_name") -> FullName:
    """Parse ФИО written in one cell: "Фамилия Имя [Отчество]"."""
    clean = normalise_text(text)
    if not clean:
        raise ValidationProblem("INVALID_NAME", "Не указаны фамилия и имя.", field)
    _check_name_text(clean, text, field)
    words = [_normalise_word(w) for w in _split_words(clean, text, field)]
    if len(words) == 4 and words[3] in _PATRONYMIC_SUFFIXES:
        words = [words[0], words[1], f"{words[2]} {words[3]}"]
    if len(words) < 2:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Укажите фамилию и имя через пробел (отчество — при наличии), а не «{_shown(text)}».",
            field,
        )
    if len(words) > 3:
        raise ValidationProblem(
            "INVALID_NAME",
            f"В ФИО «{_shown(text)}» больше трёх слов. Укажите фамилию, имя и отчество; "
            "двойную фамилию пишите через дефис.",
            field,
        )
    if words[1] in _PATRONYMIC_SUFFIXES or words[0] in _PATRONYMIC_SUFFIXES:
        raise ValidationProblem("INVALID_NAME", f"ФИО «{_shown(text)}» записано в неверном порядке.", field)
    return FullName(words[0], words[1], words[2] if len(words) == 3 else None)


def _parse_name_part(value: Any, field: str, *, required: bool) -> str | None:
    clean = normalise_text(value)
    label = _FIELD_LABELS[field]
    if not clean:
        if required:
            raise ValidationProblem("INVALID_NAME", f"Не заполнено поле «{label}».", field)
        return None
    _check_name_text(clean, value, field)
    words = [_normalise_word(w) for w in _split_words(clean, value, field)]
    if len(words) == 2 and field == "middle_name" and words[1] in _PATRONYMIC_SUFFIXES:
        return f"{words[0]} {words[1]}"
    if len(words) != 1:
        raise ValidationProblem(
            "INVALID_NAME",
            f"В поле «{label}» должно быть одно слово (двойное — через дефис): «{_shown(value)}».",
            field,
        )
    return words[0]


def parse_full_name_parts(last: Any, first: Any, middle: Any = None) -> FullName:
    """Parse ФИО kept in three columns (Фамилия, Имя, Отчество)."""
    last_name = _parse_name_part(last, "last_name", required=True)
    first_name = _parse_name_part(first, "first_name", required=True)
    middle_name = _parse_name_part(middle, "middle_name", required=False)
    assert last_name is not None and first_name is not None  # required=True guarantees it
    return FullName(last_name, first_name, middle_name)


# --------------------------------------------------------------------------- dates

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
            f"«{_shown(original)}» не похоже на дату. Укажите дату в виде ДД.ММ.ГГГГ.",
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
            f"{_date_label(field)} «{_shown(original)}» не существует — проверьте день и месяц.",
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
                    f"В дате «{_shown(value)}» укажите год четырьмя цифрами, например 05.09.2012.",
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
                f"Не удалось распознать дату «{_shown(value)}». Укажите её в виде ДД.ММ.ГГГГ, "
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
            raise ValidationProblem("INVALID_GRADE", f"{_GRADE_MESSAGE}, а указано «{_shown(value)}».", field)
        grade, letter = int(value), None
    else:
        text = normalise_text(value).translate(_DASHES).translate(_LATIN_TO_CYRILLIC)
        text = re.sub(r"\s*(класс|кл\.?)\s*", " ", text, flags=re.IGNORECASE).strip()
        match = _CLASS_RE.fullmatch(text)
        if not match:
            raise ValidationProblem(
                "INVALID_GRADE",
                f"Не удалось распознать класс «{_shown(value)}». {_GRADE_MESSAGE}, "
                "при необходимости с буквой, например «7» или «7А».",
                field,
            )
        grade = int(match[1])
        letter = match[2].upper() if match[2] else None
    if not 1 <= grade <= 11:
        raise ValidationProblem("INVALID_GRADE", f"{_GRADE_MESSAGE}, а указано «{_shown(value)}».", field)
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
            f"Телефон «{_shown(value)}» содержит посторонние символы. "
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
            f"Не удалось распознать номер «{_shown(value)}». Укажите российский номер "
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
        f"Адрес электронной почты «{_shown(value)}» указан неверно. "
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
    raise ValidationProblem("INVALID_YES_NO", f"Укажите «да» или «нет», а не «{_shown(value)}».", field)


def parse_capacity(value: Any, field: str = "capacity") -> int:
    """How many mentees a mentor takes; empty means the default of one."""
    message = (
        f"Количество наставляемых должно быть целым числом от {MIN_CAPACITY} до {MAX_CAPACITY}, "
        f"а указано «{_shown(value)}»."
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
