"""Unit tests for services.registry.validation (pure validators)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.registry.commands import PersonalData
from services.registry.validation import (
    FullName,
    SchoolClass,
    ValidationProblem,
    age_on,
    is_minor,
    parse_birth_date,
    parse_capacity,
    parse_class,
    parse_date,
    parse_full_name,
    parse_full_name_parts,
    parse_grade,
    parse_yes_no,
    snils_checksum,
    validate_email,
    validate_phone,
    validate_snils,
)

TODAY = date(2025, 9, 1)


def problem(func, *args, **kwargs) -> ValidationProblem:
    with pytest.raises(ValidationProblem) as info:
        func(*args, **kwargs)
    assert info.value.message_ru.strip(), "every problem needs a Russian explanation"
    return info.value


# --------------------------------------------------------------------------- СНИЛС


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 1·9+1·8+2·7+2·6+3·5+3·4+4·3+4·2+5·1 = 95 < 100 → control 95
        ("112-233-445 95", "112-233-445 95"),
        ("11223344595", "112-233-445 95"),
        ("112 233 445 95", "112-233-445 95"),
        (" 112-233-445-95\u00a0", "112-233-445 95"),
        (11223344595, "112-233-445 95"),
        (11223344595.0, "112-233-445 95"),
        # 0·9+1·8+2·7+3·6+4·5+5·4+6·3+7·2+8·1 = 120 → 120 mod 101 = 19;
        # a numeric Excel cell drops the leading zero, which must come back.
        (1234567819, "012-345-678 19"),
        ("012-345-678 19", "012-345-678 19"),
        # 0+0+7+18+10+24+18+14+9 = 100 → control 00
        ("001-326-679 00", "001-326-679 00"),
        # 0+0+7+30+0+32+24+2+6 = 101 → control 00
        ("001-508-816 00", "001-508-816 00"),
        # 9+0+7+54+45+32+27+18+9 = 201 → 201 mod 101 = 100 → control 00
        ("101-998-999 00", "101-998-999 00"),
        # 9·45 = 405 → 405 mod 101 = 1
        ("999-999-999 01", "999-999-999 01"),
        # numbers up to 001-001-998 predate the checksum: any control passes
        ("001-001-998 55", "001-001-998 55"),
        ("000-000-001 99", "000-000-001 99"),
        # 001-001-999 is the first checked number: 7+4+27+18+9 = 65
        ("001-001-999 65", "001-001-999 65"),
    ],
)
def test_valid_snils_is_normalised(raw, expected):
    assert validate_snils(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "112-233-445 96",
        "112-233-445 59",
        "001-326-679 100",
        "101-998-999 01",
        "001-001-999 00",
        "1122334459",  # ten digits
        "112-233-445 9X",
        "112-233-445-955",
        "000-000-000 00",
        "",
        True,
        1.5,
    ],
)
def test_invalid_snils(raw):
    assert problem(validate_snils, raw).code == "INVALID_SNILS"


def test_snils_hint_about_lost_leading_zero():
    assert "текстовый формат" in problem(validate_snils, "1234567819").message_ru


def test_snils_checksum_rejects_bad_input():
    with pytest.raises(ValueError):
        snils_checksum("12345678")


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_snils_checksum_property(number):
    nine = str(number).zfill(9)
    control = snils_checksum(nine)
    assert 0 <= control <= 99
    good = f"{nine}{control:02d}"
    assert validate_snils(good) == f"{nine[:3]}-{nine[3:6]}-{nine[6:]} {control:02d}"
    bad = f"{nine}{(control + 1) % 100:02d}"
    with pytest.raises(ValidationProblem):
        validate_snils(bad)


# --------------------------------------------------------------------------- ФИО


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Иванов Иван Иванович", FullName("Иванов", "Иван", "Иванович")),
        ("  Иванов   Иван\u00a0 Иванович ", FullName("Иванов", "Иван", "Иванович")),
        ("Петрова Анна", FullName("Петрова", "Анна", None)),
        ("Римский-Корсаков Николай Андреевич", FullName("Римский-Корсаков", "Николай", "Андреевич")),
        ("Римский - Корсаков Николай", FullName("Римский-Корсаков", "Николай", None)),
        ("Салтыкова–Щедрина Мария", FullName("Салтыкова-Щедрина", "Мария", None)),
        ("Семёнов Пётр Фёдорович", FullName("Семёнов", "Пётр", "Фёдорович")),
        ("ИВАНОВА мария ПЕТРОВНА", FullName("Иванова", "Мария", "Петровна")),
        ("Алиев Рашид Ахмед оглы", FullName("Алиев", "Рашид", "Ахмед оглы")),
        ("Ю Ирина", FullName("Ю", "Ирина", None)),
    ],
)
def test_parse_full_name(raw, expected):
    assert parse_full_name(raw) == expected


def test_full_name_str_and_key():
    name = parse_full_name("Семёнов Пётр")
    assert str(name) == "Семёнов Пётр"
    assert name.key == parse_full_name("СЕМЕНОВ петр").key


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("Ивaнов Иван", "латинские"),  # Latin "a" that looks Cyrillic
        ("Ivanov Ivan", "русскими буквами"),
        ("Иванов Иван 2", "цифр"),
        ("Иванов И.И.", "без инициалов"),
        ("Иванов", "фамилию и имя"),
        ("", "Не указаны"),
        (None, "Не указаны"),
        ("Иванов Иван Иванович Петров", "больше трёх"),
        ("-Иванов Иван", "дефис"),
        ("Иванов Иван!", "недопустимые символы"),
    ],
)
def test_invalid_full_name(raw, fragment):
    found = problem(parse_full_name, raw)
    assert found.code == "INVALID_NAME"
    assert found.field == "full_name"
    assert fragment in found.message_ru


def test_full_name_problem_keeps_given_field():
    assert problem(parse_full_name, "X", "guardian_name").field == "guardian_name"


def test_full_name_from_three_columns():
    assert parse_full_name_parts(" иванова ", "Анна-Мария", None) == FullName("Иванова", "Анна-Мария", None)
    assert parse_full_name_parts("Алиев", "Рашид", "Ахмед оглы").middle == "Ахмед оглы"
    assert parse_full_name_parts("Ёлкин", "Пётр", "") == FullName("Ёлкин", "Пётр", None)


@pytest.mark.parametrize(
    ("last", "first", "middle", "field"),
    [
        ("", "Иван", "Иванович", "last_name"),
        ("Иванов", None, None, "first_name"),
        ("Иванов", "Иван Петр", None, "first_name"),
        ("Иванов", "Иван", "Ivanovich", "middle_name"),
        ("Иванов1", "Иван", None, "last_name"),
    ],
)
def test_invalid_full_name_parts(last, first, middle, field):
    found = problem(parse_full_name_parts, last, first, middle)
    assert (found.code, found.field) == ("INVALID_NAME", field)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (date(2012, 3, 14), date(2012, 3, 14)),
        (datetime(2012, 3, 14, 0, 0), date(2012, 3, 14)),
        ("14.03.2012", date(2012, 3, 14)),
        ("4.3.2012", date(2012, 3, 4)),
        ("2012-03-14", date(2012, 3, 14)),
        ("14/03/2012", date(2012, 3, 14)),
        ("2012-03-14 00:00:00", date(2012, 3, 14)),
        (" 14.03.2012 ", date(2012, 3, 14)),
        # Excel serials: 1 = 01.01.1900, 59 = 28.02.1900, 61 = 01.03.1900
        (40982, date(2012, 3, 14)),
        (40982.75, date(2012, 3, 14)),
        ("40982", date(2012, 3, 14)),
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),
        (45658, date(2025, 1, 1)),
        # 29 February exists in leap years
        ("29.02.2012", date(2012, 2, 29)),
        ("29.02.2000", date(2000, 2, 29)),
        (40968, date(2012, 2, 29)),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw, "birth_date") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "31.02.2010",
        "29.02.2011",  # not a leap year
        "29.02.1900",  # century, not a leap year
        "2010-13-01",
        "00.01.2010",
        "14.03.12",  # two-digit year is ambiguous
        "завтра",
        "2010",
        60,  # Excel's phantom 29.02.1900
        0,
        -5,
        10**9,
        float("nan"),
        "",
        None,
        True,
    ],
)
def test_invalid_date(raw):
    found = problem(parse_date, raw, "birth_date")
    assert (found.code, found.field) == ("INVALID_DATE", "birth_date")


def test_impossible_date_message_is_clear():
    assert "не существует" in problem(parse_date, "31.02.2010", "birth_date").message_ru


def test_future_date_is_implausible():
    assert problem(parse_date, "02.09.2025", "date", TODAY).code == "IMPLAUSIBLE_DATE"
    assert parse_date("01.09.2025", "date", TODAY) == TODAY


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("01.09.2020", True),  # exactly 5
        ("02.09.2020", False),  # 4 years old
        ("02.09.1924", True),  # 100
        ("01.09.1924", False),  # 101
        ("01.09.2030", False),  # future
    ],
)
def test_birth_date_plausibility(raw, ok):
    if ok:
        assert parse_birth_date(raw, TODAY) == parse_date(raw)
    else:
        found = problem(parse_birth_date, raw, TODAY)
        assert (found.code, found.field) == ("IMPLAUSIBLE_DATE", "birth_date")


def test_birth_date_invalid_beats_implausible():
    assert problem(parse_birth_date, "31.02.2010", TODAY).code == "INVALID_DATE"


def test_age_on_and_minor():
    born = date(2007, 9, 2)
    assert age_on(born, date(2025, 9, 1)) == 17
    assert age_on(born, date(2025, 9, 2)) == 18
    assert is_minor(born, date(2025, 9, 1))
    assert not is_minor(born, date(2025, 9, 2))


def test_age_of_leap_day_birthday():
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 27)) == 17
    # ГК РФ ст. 192: in a non-leap year the year ends on 28 February
    assert age_on(born, date(2026, 2, 28)) == 18
    assert age_on(born, date(2028, 2, 28)) == 19
    assert age_on(born, date(2028, 2, 29)) == 20


# --------------------------------------------------------------------------- класс


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", SchoolClass(7, None)),
        (7, SchoolClass(7, None)),
        (7.0, SchoolClass(7, None)),
        ("7А", SchoolClass(7, "А")),
        ("7а", SchoolClass(7, "А")),
        ("7 «Б»", SchoolClass(7, "Б")),
        ('7 "Б"', SchoolClass(7, "Б")),
        ("7-Б", SchoolClass(7, "Б")),
        ("7 – в", SchoolClass(7, "В")),
        ("11 класс", SchoolClass(11, None)),
        ("1 кл.", SchoolClass(1, None)),
        ("7A", SchoolClass(7, "А")),  # Latin A typed on the wrong layout
    ],
)
def test_parse_class(raw, expected):
    assert parse_class(raw) == expected
    assert parse_grade(raw) == expected.grade


@pytest.mark.parametrize("raw", ["0", "12", "12Б", 0, 12, 7.5, "седьмой", "7АБ", "", True, "-1"])
def test_invalid_grade(raw):
    found = problem(parse_grade, raw)
    assert found.code == "INVALID_GRADE"
    assert "Класс должен быть от 1 до 11" in found.message_ru


# --------------------------------------------------------------------------- contacts and misc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 (912) 345-67-89", "+79123456789"),
        ("8 912 345 67 89", "+79123456789"),
        ("89123456789", "+79123456789"),
        (89123456789, "+79123456789"),
        (79123456789.0, "+79123456789"),
        ("9123456789", "+79123456789"),
        ("7-912-345-67-89", "+79123456789"),
        ("", None),
        (None, None),
    ],
)
def test_phone(raw, expected):
    assert validate_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345", "+8 912 345 67 89", "+375 29 123 45 67", "912345678", "тел. 8912", "+7 912"]
)
def test_invalid_phone(raw):
    assert problem(validate_phone, raw).code == "INVALID_PHONE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivanova@School.RU", "Ivanova@school.ru"),
        (" a.b+c@mail.example.org ", "a.b+c@mail.example.org"),
        ("director@школа.рф", "director@школа.рф"),
        ("", None),
        (None, None),
    ],
)
def test_email(raw, expected):
    assert validate_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["ivanova", "ivanova@school", "a@b@c.ru", "ivanova@school,ru", "iva nova@school.ru",
     "a..b@school.ru", "a@-school.ru", "иванова@school.ru", "a@school.123"],
)  # fmt: skip
def test_invalid_email(raw):
    assert problem(validate_email, raw).code == "INVALID_EMAIL"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("да", True), ("Да.", True), ("ДА", True), ("+", True), (True, True), ("согласна", True),
     ("нет", False), ("", False), (None, False), (False, False), ("0", False)],
)  # fmt: skip
def test_yes_no(raw, expected):
    assert parse_yes_no(raw, "consent") is expected


def test_yes_no_rejects_unclear_answer():
    found = problem(parse_yes_no, "возможно", "consent")
    assert (found.code, found.field) == ("INVALID_YES_NO", "consent")


@pytest.mark.parametrize(("raw", "expected"), [("", 1), (None, 1), ("3", 3), (15, 15), (2.0, 2)])
def test_capacity(raw, expected):
    assert parse_capacity(raw) == expected


@pytest.mark.parametrize("raw", ["0", 16, "два", 2.5, "-1", True])
def test_invalid_capacity(raw):
    assert problem(parse_capacity, raw).code == "INVALID_CAPACITY"


def test_validation_problem_is_plain_data():
    first = ValidationProblem("X", "Сообщение.", "f")
    assert first == ValidationProblem("X", "Сообщение.", "f")
    assert {first} == {ValidationProblem("X", "Сообщение.", "f")}
    assert "X" in repr(first)


def test_every_wrong_field_of_a_person_is_named_in_one_answer() -> None:
    """A curator corrects a form once, not once per field: SNILS, phone and e-mail together."""
    with pytest.raises(ValidationError) as caught:
        PersonalData(last_name="Иванов", first_name="Иван", birth_date=date(2010, 1, 1),
                     snils="123", phone="12", email="xx")
    assert [e["loc"] for e in caught.value.errors()] == [("snils",), ("phone",), ("email",)]
