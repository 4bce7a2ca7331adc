"""A file's requests and competencies meet the same bounds as a registration over the API."""

from __future__ import annotations

from datetime import date

from services.registry.importing import validate_import
from services.registry.validation import MAX_LIST_ITEM_LENGTH, MAX_LIST_ITEMS

TODAY = date(2025, 9, 1)


def csv_file(header: str, *rows: str) -> bytes:
    return "\r\n".join((header, *rows)).encode("utf-8")


def test_long_or_too_many_requests_are_row_errors_in_russian() -> None:
    header = "ФИО;Дата рождения;Категория;Согласие на обработку ПД;Запросы"
    too_many = ", ".join(f"запрос {i}" for i in range(MAX_LIST_ITEMS + 1))
    fine = "; ".join(["ж" * MAX_LIST_ITEM_LENGTH] * 3)
    data = csv_file(header,
                    f"Соколова Мария;03.02.1999;молодой педагог;да;{'ж' * (MAX_LIST_ITEM_LENGTH + 1)}",
                    f"Иванова Анна;03.02.1998;молодой педагог;да;{too_many}",
                    f"Петрова Ольга;03.02.1997;молодой педагог;да;{fine}")
    result = validate_import(data, "mentees.csv", "mentee", TODAY)
    assert [(e.line, e.column, e.code) for e in result.errors] == [
        (2, "Запросы", "VALUE_TOO_LONG"), (3, "Запросы", "TOO_MANY_ITEMS")]
    assert all(any("а" <= ch <= "я" for ch in e.message_ru) for e in result.errors)


def test_a_list_the_role_does_not_use_is_not_checked() -> None:
    header = "ФИО;Дата рождения;Категория;Согласие на обработку ПД;Компетенции;Запросы"
    data = csv_file(header, f"Петрова Анна;14.03.1985;педагог;да;математика;{'ж' * 500}")
    result = validate_import(data, "mentors.csv", "mentor", TODAY)
    assert result.errors == [] and result.rows[0].competencies == ("математика",)
    bad = csv_file(header, f"Петрова Анна;14.03.1985;педагог;да;{'ж' * 500};")
    assert [e.code for e in validate_import(bad, "mentors.csv", "mentor", TODAY).errors] == \
        ["VALUE_TOO_LONG"]
