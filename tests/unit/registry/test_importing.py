"""Unit tests for services.registry.importing (bulk import of people)."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from services.registry.importing import (
    CATEGORY_LABELS,
    ImportLimits,
    ImportResult,
    PersonRow,
    RowError,
    classify_header,
    parse_category,
    read_table,
    template_xlsx,
    validate_import,
)
from services.registry.validation import FullName, ValidationProblem

TODAY = date(2025, 9, 1)

MENTEE_HEADER = [
    "ФИО",
    "Дата рождения",
    "Категория",
    "Класс",
    "ОО",
    "СНИЛС",
    "Телефон",
    "Эл. почта",
    "Запросы",
    "ФИО законного представителя",
    "Согласие на обработку ПД",
    "Согласие законного представителя",
]


def xlsx_bytes(rows: list[list[Any]], title: str = "Лист1", before: list[str] = ()) -> bytes:
    """An in-memory workbook; ``before`` adds sheets placed ahead of the data sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for index, name in enumerate(before):
        other = workbook.create_sheet(name, index)
        other.append(["Пояснения", "к", "файлу"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(lines: list[str], encoding: str, newline: str = "\r\n") -> bytes:
    return newline.join(lines).encode(encoding)


def codes(result: ImportResult) -> list[tuple[int | None, str]]:
    return [(error.line, error.code) for error in result.errors]


# --------------------------------------------------------------------------- good files


def test_good_mentee_xlsx_gives_exact_rows():
    data = xlsx_bytes(
        [
            MENTEE_HEADER,
            [
                "Петров  Иван Сергеевич",
                datetime(2012, 5, 17),
                "Обучающийся",
                "7 «б»",
                "0101",
                11223344595,  # numeric cell, as Excel stores a typed-in СНИЛС
                89123456789,
                "Ivan.Petrov@Mail.RU",
                "математика; адаптация в классе, математика",
                "Петрова Ольга Николаевна",
                "да",
                "Да",
            ],
            [
                "Соколова Мария",
                "03.02.1999",
                "молодой педагог",
                None,
                "0102",
                "012-345-678 19",
                "",
                None,
                "методика преподавания",
                None,
                "ДА",
                None,
            ],
            [
                "Кузнецов-Орлов Дмитрий Андреевич",
                "2006-04-01",
                "студент колледжа",
                "2 курс",  # ignored: only school students have a class
                None,
                None,
                "+7 (900) 000-00-01",
                None,
                None,
                None,
                "+",
                None,
            ],
        ],
        title="Наставляемые",
    )
    result = validate_import(data, "наставляемые.xlsx", "mentee", TODAY)
    assert result.errors == []
    assert result.ok
    assert result.rows == [
        PersonRow(
            line=2,
            role="mentee",
            full_name=FullName("Петров", "Иван", "Сергеевич"),
            birth_date=date(2012, 5, 17),
            category="student",
            grade=7,
            class_letter="Б",
            organisation_code="0101",
            snils="112-233-445 95",
            phone="+79123456789",
            email="Ivan.Petrov@mail.ru",
            requests=("математика", "адаптация в классе"),
            competencies=(),
            capacity=None,
            guardian_name=FullName("Петрова", "Ольга", "Николаевна"),
            consent=True,
            guardian_consent=True,
        ),
        PersonRow(
            line=3,
            role="mentee",
            full_name=FullName("Соколова", "Мария", None),
            birth_date=date(1999, 2, 3),
            category="young_teacher",
            organisation_code="0102",
            snils="012-345-678 19",
            requests=("методика преподавания",),
            consent=True,
        ),
        PersonRow(
            line=4,
            role="mentee",
            full_name=FullName("Кузнецов-Орлов", "Дмитрий", "Андреевич"),
            birth_date=date(2006, 4, 1),
            category="college_student",
            phone="+79000000001",
            consent=True,
        ),
    ]
    assert result.importable_rows() == result.rows


def test_good_mentor_csv_cp1251_with_title_lines_and_split_name():
    lines = [
        "Список наставников МБОУ СОШ № 5;;;;;;;;",
        ";;;;;;;;",
        "Фамилия;Имя;Отчество;Дата рождения;Категория;Код ОО;Компетенции;Нагрузка;"
        "Согласие на обработку персональных данных",
        "Смирнова;Елена;Викторовна;12.10.1980;учитель;0101;математика, физика;3;да",
        "Орлов;Пётр;;01.01.2000;студент вуза;;;;да",
        "Белов;Игорь;Олегович;15.06.1975;Представитель предприятия;;;2;да",
        "",
    ]
    result = validate_import(csv_bytes(lines, "cp1251"), "mentors.csv", "mentor", TODAY)
    assert result.ok, result.errors
    assert result.rows == [
        PersonRow(
            line=4,
            role="mentor",
            full_name=FullName("Смирнова", "Елена", "Викторовна"),
            birth_date=date(1980, 10, 12),
            category="teacher",
            organisation_code="0101",
            competencies=("математика", "физика"),
            capacity=3,
            consent=True,
        ),
        PersonRow(
            line=5,
            role="mentor",
            full_name=FullName("Орлов", "Пётр", None),
            birth_date=date(2000, 1, 1),
            category="university_student",
            capacity=1,
            consent=True,
        ),
        PersonRow(
            line=6,
            role="mentor",
            full_name=FullName("Белов", "Игорь", "Олегович"),
            birth_date=date(1975, 6, 15),
            category="employer",
            capacity=2,
            consent=True,
        ),
    ]


def test_utf8_bom_csv_with_semicolons_and_quoted_cells():
    lines = [
        "ФИО;Дата рождения;Категория;Класс;Запрос;Согласие;Законный представитель;Согласие родителя",
        'Иванов Иван;01.09.2014;ученик;4А;"чтение; математика";да;Иванова Анна;да',
        'Сидорова Ольга;5/3/2013;ученица;"5 ""В""";;да;Сидоров Павел;да',
    ]
    result = validate_import(csv_bytes(lines, "utf-8-sig"), "list.CSV", "mentee", TODAY)
    assert result.ok, result.errors
    first, second = result.rows
    assert (first.line, first.grade, first.class_letter) == (2, 4, "А")
    assert first.requests == ("чтение", "математика")
    assert first.guardian_name == FullName("Иванова", "Анна", None)
    assert (second.line, second.birth_date, second.grade, second.class_letter) == (
        3,
        date(2013, 3, 5),
        5,
        "В",
    )


@pytest.mark.parametrize(
    ("delimiter", "encoding"), [(",", "utf-8"), ("\t", "utf-8"), (";", "cp1251"), (",", "cp1251")]
)
def test_delimiter_and_encoding_detection(delimiter, encoding):
    header = ["ФИО", "Дата рождения", "Категория", "Компетенции", "Согласие"]
    row = ["Смирнова Елена", "12.10.1980", "педагог", '"история, право"', "да"]
    data = csv_bytes([delimiter.join(header), delimiter.join(row)], encoding)
    result = validate_import(data, "m.csv", "mentor", TODAY)
    assert result.ok, result.errors
    assert result.rows[0].competencies == ("история", "право")


@pytest.mark.parametrize(("encoding", "named"), [("koi8_r", "KOI8-R"), ("cp866", "CP866")])
def test_a_csv_in_another_cyrillic_encoding_gets_a_hint_not_missing_columns(encoding, named):
    """Issue 18, Low: a KOI8-R file reads as Windows-1251 without an error, into nonsense
    headers; the curator is told which encoding it is and what to save it as."""
    header = ["ФИО", "Дата рождения", "Категория", "Компетенции", "Согласие"]
    row = ["Смирнова Елена", "12.10.1980", "педагог", "история", "да"]
    data = csv_bytes([";".join(header), ";".join(row)], encoding)
    result = validate_import(data, "m.csv", "mentor", TODAY)
    assert not result.ok and not result.rows
    assert [e.code for e in result.errors] == ["WRONG_ENCODING"]
    assert named in result.errors[0].message_ru and "CSV UTF-8" in result.errors[0].message_ru
    # A file that truly lacks a column is still told so.
    lacking = csv_bytes([";".join(header[:2]), ";".join(row[:2])], "cp1251")
    assert "MISSING_COLUMNS" in {e.code for e in validate_import(lacking, "m.csv", "mentor",
                                                                  TODAY).errors}


def test_excel_sep_hint_line_is_not_counted():
    data = csv_bytes(
        ["sep=;", "ФИО;Дата рождения;Категория;Согласие", "Смирнова Елена;12.10.1980;педагог;да"],
        "utf-8",
    )
    result = validate_import(data, "m.csv", "mentor", TODAY)
    assert result.ok, result.errors
    assert result.rows[0].line == 2


def test_utf16_csv_from_excel_unicode_text():
    text = "ФИО\tДата рождения\tКатегория\tСогласие\r\nСмирнова Елена\t12.10.1980\tпедагог\tда"
    result = validate_import(text.encode("utf-16"), "m.csv", "mentor", TODAY)
    assert result.ok, result.errors


def test_xlsx_sheet_is_chosen_by_role_name():
    workbook = Workbook()
    workbook.active.title = "Наставники"
    workbook.active.append(["ФИО", "Дата рождения", "Категория", "Согласие на обработку ПД"])
    workbook.active.append(["Смирнова Елена", "12.10.1980", "педагог", "да"])
    mentees = workbook.create_sheet("Наставляемые")
    mentees.append(["ФИО", "Дата рождения", "Категория", "Согласие на обработку ПД"])
    mentees.append(["Соколова Мария", "03.02.1999", "молодой специалист", "да"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()

    mentee_result = validate_import(data, "all.xlsx", "mentee", TODAY)
    mentor_result = validate_import(data, "all.xlsx", "mentor", TODAY)
    assert [str(r.full_name) for r in mentee_result.rows] == ["Соколова Мария"]
    assert [str(r.full_name) for r in mentor_result.rows] == ["Смирнова Елена"]
    # Without a role the first sheet is read.
    assert read_table(data, "all.xlsx")[1][0] == "Смирнова Елена"


def test_first_sheet_used_when_no_sheet_is_named_for_role():
    data = xlsx_bytes([["ФИО"], ["Смирнова Елена"]], title="Данные", before=[])
    assert read_table(data, "x.xlsx", role="mentee") == [["ФИО"], ["Смирнова Елена"]]


def test_xlsx_keeps_blank_rows_so_line_numbers_match_excel():
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"] = "ФИО"
    sheet["A4"] = "Смирнова Елена"
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "x.xlsx")
    assert table == [["ФИО"], [], [], ["Смирнова Елена"]]


# --------------------------------------------------------------------------- bad rows


def test_bad_rows_are_all_reported_with_lines_and_codes():
    good = ["Петров Иван Сергеевич", "17.05.2012", "обучающийся", "7Б", "0101", None, None, None,
            "математика", "Петрова Ольга Николаевна", "да", "да"]  # fmt: skip
    rows = [
        MENTEE_HEADER,
        good,  # line 2
        # line 3: Latin «а» in the name, impossible date, class 12
        ["Ивaнов Иван", "31.02.2010", "ученик", "12", None, None, None, None, None,
         "Иванова Анна", "да", "да"],
        [None] * 12,  # line 4: empty, ignored
        # line 5: minor without guardian, and no own consent
        ["Сидоров Павел", "01.01.2012", "ученик", "7", None, None, None, None, None,
         None, "нет", None],
        # line 6: same person as line 2 (case and «ё» differences do not matter)
        ["ПЕТРОВ иван сергеевич", datetime(2012, 5, 17), "ученик", "7Б", "0101", None, None,
         None, None, "Петрова Ольга Николаевна", "да", "да"],
        # line 7: student with no class, bad СНИЛС, bad e-mail
        ["Орлова Вера", "02.02.2011", "обучающаяся", None, None, "112-233-445 96", None,
         "vera@", None, "Орлов Олег", "да", "да"],
        # line 8: teacher cannot be a mentee; bad phone
        ["Белова Нина Петровна", "10.10.1990", "педагог", None, None, None, "12-34", None,
         None, None, "да", None],
        # line 9: a four-year-old
        ["Малышев Гоша", "01.01.2021", "ученик", "1", None, None, None, None, None,
         "Малышева Анна", "да", "да"],
        # line 10: unclear consent answer, unknown category
        ["Зайцев Олег", "01.01.2000", "космонавт", None, None, None, None, None, None,
         None, "может быть", None],
    ]  # fmt: skip
    result = validate_import(xlsx_bytes(rows), "bad.xlsx", "mentee", TODAY)

    assert not result.ok
    assert codes(result) == [
        (3, "INVALID_NAME"),
        (3, "INVALID_DATE"),
        (3, "INVALID_GRADE"),
        (5, "CONSENT_REQUIRED"),
        (5, "GUARDIAN_CONSENT_REQUIRED"),
        (6, "DUPLICATE_IN_FILE"),
        (7, "GRADE_REQUIRED"),
        (7, "INVALID_SNILS"),
        (7, "INVALID_EMAIL"),
        (8, "INVALID_CATEGORY"),
        (8, "INVALID_PHONE"),
        (9, "IMPLAUSIBLE_DATE"),
        (10, "INVALID_CATEGORY"),
        (10, "INVALID_YES_NO"),
    ]
    by_key = {(e.line, e.code): e for e in result.errors}
    assert by_key[(3, "INVALID_DATE")].column == "Дата рождения"
    assert by_key[(3, "INVALID_GRADE")].message_ru.startswith("Класс должен быть от 1 до 11")
    assert by_key[(7, "INVALID_EMAIL")].column == "Эл. почта"
    duplicate = by_key[(6, "DUPLICATE_IN_FILE")].message_ru
    assert "строку 2" in duplicate and "Строка 6" in duplicate
    assert "ФИО законного представителя" in by_key[(5, "GUARDIAN_CONSENT_REQUIRED")].message_ru
    assert "Строка 3" in str(by_key[(3, "INVALID_DATE")])
    # Valid rows are still shown for the preview, but nothing is importable.
    assert [row.line for row in result.rows] == [2]
    with pytest.raises(ValueError):
        result.importable_rows()
    assert all(error.message_ru.endswith((".", ")")) for error in result.errors)


def test_duplicate_snils_in_file():
    lines = [
        "ФИО;Дата рождения;Категория;СНИЛС;Согласие",
        "Смирнова Елена;12.10.1980;педагог;112-233-445 95;да",
        "Смирнов Олег;12.10.1981;педагог;11223344595;да",
    ]
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentor", TODAY)
    assert codes(result) == [(3, "DUPLICATE_IN_FILE")]
    assert result.errors[0].column == "СНИЛС"
    assert "строке 2" in result.errors[0].message_ru


def test_same_person_in_different_organisations_is_not_a_duplicate():
    lines = [
        "ФИО;Дата рождения;Категория;ОО;Согласие",
        "Смирнова Елена;12.10.1980;педагог;0101;да",
        "Смирнова Елена;12.10.1980;педагог;0202;да",
    ]
    assert validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentor", TODAY).ok


def test_minor_needs_guardian_columns_even_when_absent_from_file():
    lines = ["ФИО;Дата рождения;Категория;Класс;Согласие", "Иванов Иван;01.09.2014;ученик;5;да"]
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentee", TODAY)
    assert codes(result) == [(2, "GUARDIAN_CONSENT_REQUIRED")]
    assert result.errors[0].column is None
    assert "Добавьте в файл столбцы" in result.errors[0].message_ru


def test_turning_eighteen_today_needs_no_guardian():
    lines = ["ФИО;Дата рождения;Категория;Класс;Согласие", "Иванов Иван;01.09.2007;ученик;11;да"]
    assert validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentee", TODAY).ok
    lines[1] = "Иванов Иван;02.09.2007;ученик;11;да"
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentee", TODAY)
    assert codes(result) == [(2, "GUARDIAN_CONSENT_REQUIRED")]


def test_student_mentee_without_grade_column():
    lines = ["ФИО;Дата рождения;Категория;Согласие", "Петрова Анна;01.01.2000;ученица;да"]
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentee", TODAY)
    assert codes(result) == [(2, "GRADE_REQUIRED")]
    assert "Добавьте в файл столбец «Класс»" in result.errors[0].message_ru


def test_mentor_capacity_bounds():
    lines = [
        "ФИО;Дата рождения;Категория;Кол-во наставляемых;Согласие",
        "Смирнова Елена;12.10.1980;педагог;16;да",
        "Смирнов Олег;12.10.1981;педагог;0;да",
        "Смирнов Павел;12.10.1982;педагог;15;да",
    ]
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentor", TODAY)
    assert codes(result) == [(2, "INVALID_CAPACITY"), (3, "INVALID_CAPACITY")]
    assert result.rows[0].capacity == 15


def test_template_example_row_left_in_is_reported():
    result = validate_import(template_xlsx("mentee"), "шаблон.xlsx", "mentee", TODAY)
    assert codes(result) == [(2, "EXAMPLE_ROW")]


def test_split_name_errors_point_at_the_right_column():
    lines = [
        "Фамилия;Имя;Отчество;Дата рождения;Категория;Согласие",
        "Смирнова;;Ivanovna;12.10.1980;педагог;да",
    ]
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentor", TODAY)
    assert [(e.line, e.column, e.code) for e in result.errors] == [(2, "Имя", "INVALID_NAME")]


# --------------------------------------------------------------------------- file-level errors


def test_missing_columns_are_listed():
    data = xlsx_bytes([["ФИО", "Класс"], ["Петров Иван", "7"]])
    result = validate_import(data, "x.xlsx", "mentee", TODAY)
    assert codes(result) == [(1, "MISSING_COLUMNS")]
    message = result.errors[0].message_ru
    for title in ("Дата рождения", "Категория", "Согласие на обработку ПД"):
        assert title in message
    assert result.rows == []


def test_missing_name_column_is_listed():
    data = xlsx_bytes([["Фамилия", "Дата рождения", "Категория", "Согласие"], ["Петров", "", "", ""]])
    result = validate_import(data, "x.xlsx", "mentee", TODAY)
    assert codes(result) == [(1, "MISSING_COLUMNS")]
    assert "ФИО" in result.errors[0].message_ru


def test_duplicate_columns_are_refused():
    data = csv_bytes(["ФИО;Дата рождения;Категория;Согласие;Телефон;Тел.", "x;y;z;да;1;2"], "utf-8")
    result = validate_import(data, "x.csv", "mentor", TODAY)
    assert codes(result) == [(1, "DUPLICATE_COLUMNS")]
    assert "Тел." in result.errors[0].message_ru


@pytest.mark.parametrize(
    "data",
    [
        xlsx_bytes([MENTEE_HEADER]),
        xlsx_bytes([MENTEE_HEADER, [None] * 12, ["  "] * 12]),
        xlsx_bytes([]),
        csv_bytes([";".join(MENTEE_HEADER)], "utf-8"),
        b"",
    ],
)
def test_empty_files(data):
    filename = "x.csv" if not data.startswith(b"PK") else "x.xlsx"
    result = validate_import(data, filename, "mentee", TODAY)
    assert [e.code for e in result.errors] == ["EMPTY_FILE"]
    assert not result.ok


def test_file_too_large_is_refused_before_parsing():
    limits = ImportLimits(max_bytes=1000)
    result = validate_import(b"x" * 1001, "big.xlsx", "mentee", TODAY, limits=limits)
    assert codes(result) == [(None, "FILE_TOO_LARGE")]
    default = validate_import(b"\0" * (10 * 1024 * 1024 + 1), "big.csv", "mentee", TODAY)
    assert codes(default) == [(None, "FILE_TOO_LARGE")]


@pytest.mark.parametrize("filename", ["list.pdf", "list.xls", "list", "list.xlsx.exe", "list.ods"])
def test_unsupported_formats(filename):
    result = validate_import(xlsx_bytes([MENTEE_HEADER]), filename, "mentee", TODAY)
    assert [e.code for e in result.errors] == ["UNSUPPORTED_FORMAT"]


def test_old_excel_or_encrypted_file_named_xlsx():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600
    result = validate_import(data, "list.xlsx", "mentee", TODAY)
    assert [e.code for e in result.errors] == ["UNSUPPORTED_FORMAT"]
    assert "пароль" in result.errors[0].message_ru


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"this is not a spreadsheet at all",
        b"PK\x03\x04" + b"\0" * 100,  # zip signature, broken archive
        zip_of({"word/document.xml": b"<w/>"}),  # a zip, but not OOXML
        zip_of({"[Content_Types].xml": b"<Types/>"}),  # OOXML shell without a workbook
        xlsx_bytes([MENTEE_HEADER])[:-200],  # truncated download
        zip_of(
            {
                "[Content_Types].xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Types/>',
                "xl/workbook.xml": b"<workbook/>",
            }
        ),
    ],
)
def test_corrupt_xlsx(data):
    result = validate_import(data, "list.xlsx", "mentee", TODAY)
    assert [e.code for e in result.errors] == ["CORRUPT_FILE"]
    assert result.errors[0].line is None
    # The shared upload checks run, but the curator reads the importer's advice.
    assert "сохраните" in result.errors[0].message_ru.casefold()


def test_corrupt_csv_binary():
    result = validate_import(b"\x00\x01\x02\xff" * 10, "list.csv", "mentee", TODAY)
    assert [e.code for e in result.errors] == ["CORRUPT_FILE"]


def test_zip_bomb_by_compression_ratio():
    # 30 MB of spaces deflates to ~30 KB: a ratio of ~1000, named like a sheet part.
    bomb = zip_of(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b" " * (30 * 1024 * 1024),
        }
    )
    assert len(bomb) < 200_000
    result = validate_import(bomb, "list.xlsx", "mentee", TODAY)
    assert [e.code for e in result.errors] == ["ZIP_BOMB"]
    assert "сжатия" in result.errors[0].message_ru
    assert "разделите её на несколько файлов" in result.errors[0].message_ru
    assert result.errors[0].line is None


def test_zip_bomb_by_total_size():
    # Incompressible content: the ratio is fine, the total is not.
    entries = {
        "[Content_Types].xml": b"<Types/>",
        "xl/worksheets/sheet1.xml": os.urandom(300_000),
        "xl/worksheets/sheet2.xml": os.urandom(300_000),
    }
    limits = ImportLimits(max_uncompressed_bytes=500_000)
    result = validate_import(zip_of(entries), "list.xlsx", "mentee", TODAY, limits=limits)
    assert [e.code for e in result.errors] == ["ZIP_BOMB"]


def test_zip_bomb_by_entry_count():
    entries = {"[Content_Types].xml": b"<Types/>"}
    entries.update({f"xl/media/image{i}.png": b"x" for i in range(1001)})
    result = validate_import(zip_of(entries), "list.xlsx", "mentee", TODAY)
    assert [e.code for e in result.errors] == ["ZIP_BOMB"]


def test_too_many_rows():
    lines = ["ФИО;Дата рождения;Категория;Согласие"] + ["Смирнова Елена;12.10.1980;педагог;да"] * 30
    limits = ImportLimits(max_data_rows=5, header_search_rows=3)
    result = validate_import(csv_bytes(lines, "utf-8"), "m.csv", "mentor", TODAY, limits=limits)
    assert [e.code for e in result.errors] == ["TOO_MANY_ROWS"]


def test_filled_cell_far_below_the_table_is_refused_cheaply():
    workbook = Workbook()
    workbook.active.append(["ФИО", "Дата рождения", "Категория", "Согласие"])
    workbook.active.append(["Смирнова Елена", "12.10.1980", "педагог", "да"])
    workbook.active.cell(row=1_048_576, column=1, value="x")  # Excel's very last row
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = validate_import(buffer.getvalue(), "m.xlsx", "mentor", TODAY)
    assert [e.code for e in result.errors] == ["TOO_MANY_ROWS"]
    assert "1048576" in result.errors[0].message_ru


def test_read_table_raises_file_problem():
    with pytest.raises(ValidationProblem) as info:
        read_table(b"abc", "x.docx")
    assert (info.value.code, info.value.field) == ("UNSUPPORTED_FORMAT", "file")


def test_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError):
        validate_import(b"", "x.csv", "teacher", TODAY)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- headers and categories


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ФИО", "full_name"),
        (" фио наставляемого ", "full_name"),
        ("Фамилия, имя, отчество", "full_name"),
        ("Фамилия", "last_name"),
        ("ИМЯ", "first_name"),
        ("Отчество (при наличии)", "middle_name"),
        ("Дата рождения (ДД.ММ.ГГГГ)", "birth_date"),
        ("Класс", "grade"),
        ("ОО", "organisation_code"),
        ("О.О.", "organisation_code"),
        ("Код ОО", "organisation_code"),
        ("Образовательная организация", "organisation_code"),
        ("Категория участника", "category"),
        ("СНИЛС", "snils"),
        ("Номер СНИЛС", "snils"),
        ("Телефон", "phone"),
        ("Контактный телефон", "phone"),
        ("E-mail", "email"),
        ("e-mail", "email"),
        ("Эл. почта", "email"),
        ("Электронная почта", "email"),
        ("Запрос", "requests"),
        ("Запросы наставляемого", "requests"),
        ("Компетенции", "competencies"),
        ("Кол-во наставляемых", "capacity"),
        ("Нагрузка", "capacity"),
        ("ФИО законного представителя", "guardian_name"),
        ("ФИО родителя (законного представителя)", "guardian_name"),
        ("Согласие на обработку ПД", "consent"),
        ("Согласие на обработку персональных данных", "consent"),
        ("Согласие законного представителя", "guardian_consent"),
        ("Согласие родителя на обработку ПД", "guardian_consent"),
        ("Телефон родителя", None),
        ("Примечание", None),
        ("", None),
        (None, None),
    ],
)
def test_classify_header(header, expected):
    assert classify_header(header) == expected


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        ("обучающийся", "mentee", "student"),
        ("Ученик", "mentee", "student"),
        ("ученица", "mentor", "student"),
        ("педагог", "mentor", "teacher"),
        ("Учитель", "mentor", "teacher"),
        ("молодой специалист", "mentee", "young_teacher"),
        ("Молодой педагог", "mentee", "young_teacher"),
        ("студент", "mentee", "college_student"),
        ("студент СПО", "mentor", "college_student"),
        ("студент колледжа", "mentor", "college_student"),
        ("студент вуза", "mentor", "university_student"),
        ("Студент (ВУЗ)", "mentor", "university_student"),
        ("работодатель", "mentor", "employer"),
        ("представитель предприятия", "mentor", "employer"),
        ("выпускник", "mentor", "graduate"),
        ("родитель", "mentor", "parent"),
        ("представитель организации-партнёра", "mentor", "partner"),
        ("teacher", "mentor", "teacher"),
    ],
)
def test_parse_category(text, role, expected):
    assert parse_category(text, role) == expected


@pytest.mark.parametrize(
    ("text", "role"),
    [("студент", "mentor"), ("педагог", "mentee"), ("работодатель", "mentee"), ("кто-то", "mentor"),
     ("", "mentee"), ("студент вуза", "mentee")],
)  # fmt: skip
def test_invalid_category(text, role):
    with pytest.raises(ValidationProblem) as info:
        parse_category(text, role)
    assert info.value.code == "INVALID_CATEGORY"


def test_every_category_label_round_trips():
    for category, label in CATEGORY_LABELS.items():
        role = "mentee" if category in ("young_teacher",) else "mentor"
        assert parse_category(label, role) == category


# --------------------------------------------------------------------------- template


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_template_headers_and_round_trip(role):
    data = template_xlsx(role)
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert sheet.title == {"mentee": "Наставляемые", "mentor": "Наставники"}[role]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["ФИО", "Дата рождения", "Категория"]
    assert "Согласие на обработку ПД" in headers
    assert ("Запросы" in headers) == (role == "mentee")
    assert ("Кол-во наставляемых" in headers) == (role == "mentor")
    assert all(classify_header(h) for h in headers), "every template header must be recognised"
    assert "Инструкция" in workbook.sheetnames

    # Replace the example by a real person: the template must then import cleanly.
    values = dict(zip(headers, (cell.value for cell in sheet[2]), strict=True))
    values["ФИО"] = "Новикова Дарья Игоревна"
    for index, header in enumerate(headers, start=1):
        sheet.cell(row=2, column=index).value = values[header]
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = validate_import(buffer.getvalue(), "filled.xlsx", role, TODAY)
    assert result.ok, result.errors
    assert str(result.rows[0].full_name) == "Новикова Дарья Игоревна"


def test_template_rejects_unknown_role():
    with pytest.raises(ValueError):
        template_xlsx("teacher")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- robustness


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b),
        st.text(max_size=500).map(lambda t: t.encode("utf-8")),
    ),
    filename=st.sampled_from(["a.xlsx", "a.csv", "a.xls", "a.xlsm", "a", "a.txt", "A.CSV"]),
    role=st.sampled_from(["mentee", "mentor"]),
)
def test_validate_import_never_raises_on_arbitrary_bytes(data, filename, role):
    result = validate_import(data, filename, role, TODAY)
    assert isinstance(result, ImportResult)
    assert all(isinstance(error, RowError) for error in result.errors)
    assert result.ok == (not result.errors and bool(result.rows))


_TEMPLATE = template_xlsx("mentee")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(_TEMPLATE) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(0, len(_TEMPLATE)),
)
def test_validate_import_never_raises_on_damaged_xlsx(flips, cut):
    damaged = bytearray(_TEMPLATE)
    for position, value in flips:
        damaged[position] = value
    result = validate_import(bytes(damaged[:cut] + damaged[cut:]), "a.xlsx", "mentee", TODAY)
    assert isinstance(result, ImportResult)


# Control characters cannot be stored in a worksheet at all, so they are not generated.
_cell_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
_cells = st.one_of(_cell_text, st.sampled_from(["да", "нет", "7А", "31.02.2010", ""]))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(_cells, min_size=0, max_size=14), max_size=8))
def test_validate_import_never_raises_on_arbitrary_cells(rows):
    workbook_rows = [MENTEE_HEADER, *rows]
    data = xlsx_bytes([[c or None for c in row] for row in workbook_rows])
    result = validate_import(data, "a.xlsx", "mentee", TODAY)
    assert isinstance(result, ImportResult)
    for error in result.errors:
        assert error.line is None or error.line >= 2
        assert error.message_ru
