"""Bulk import through the API: a whole file or nothing, with every bad row named."""

from __future__ import annotations

import io

import openpyxl

from shared.auth import Role
from tests.integration.registry.conftest import Registry, School

HEADER = ["ФИО", "Дата рождения", "Категория", "Класс", "Код ОО", "СНИЛС",
          "ФИО законного представителя", "Согласие на обработку ПД", "Согласие законного представителя",
          "Запросы"]
GOOD_ROWS = [
    ["Сидоров Павел Андреевич", "02.09.2012", "обучающийся", "7А", "school-a", "", "Сидорова Ольга Петровна",
     "да", "да", "олимпиада; проект"],
    ["Кузнецова Алиса Игоревна", "15.01.2011", "ученик", "8Б", "school-a", "112-233-445 95",
     "Кузнецов Игорь Олегович", "да", "да", "профориентация"],
    ["Лебедев Марк Денисович", "30.11.2013", "обучающийся", "6", "", "", "Лебедева Инна Юрьевна",
     "да", "да", ""],
]


def xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(registry: Registry, school_id: str, content: bytes, name: str = "base.xlsx") -> object:
    return registry.client.post(
        f"/registry/organisations/{school_id}/import", params={"role": "mentee"},
        files={"file": (name, content)}, headers=registry.headers(Role.CURATOR, "demo/m1/school-a"))


def test_a_good_file_imports_every_row(registry: Registry, schools: School) -> None:
    response = upload(registry, schools.school_id, xlsx(GOOD_ROWS))
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 3
    people = registry.client.get(f"/registry/organisations/{schools.school_id}/people",
                                 headers=registry.headers(Role.CURATOR, "demo/m1/school-a")).json()
    assert sorted(p["full_name"] for p in people) == [
        "Кузнецова Алиса Игоревна", "Лебедев Марк Денисович", "Сидоров Павел Андреевич"]
    assert {p["grade"] for p in people} == {6, 7, 8}
    assert all(p["can_be_paired"] for p in people)


def test_a_file_with_bad_rows_imports_nothing_and_names_each_bad_row(
        registry: Registry, schools: School) -> None:
    rows = [*GOOD_ROWS,
            ["Иванов Иван", "31.02.2012", "обучающийся", "7", "", "", "Иванова Анна Петровна",
             "да", "да", ""],
            ["Смирнова Ева Олеговна", "01.03.2012", "обучающийся", "12", "", "",
             "Смирнов Олег Ильич", "да", "да", ""],
            ["Попов Лев Ильич", "01.03.2012", "обучающийся", "5", "", "112-233-445 96",
             "Попова Нина Ивановна", "да", "да", ""],
            ["Орлов Егор Ильич", "02.05.2013", "обучающийся", "5", "", "", "", "да", "нет", ""],
            ["Лебедев Марк Денисович", "30.11.2013", "обучающийся", "6", "", "", "Лебедева Инна Юрьевна",
             "да", "да", ""]]
    before = registry.stored()
    response = upload(registry, schools.school_id, xlsx(rows))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "IMPORT_REJECTED"
    by_line: dict[int, set[str]] = {}
    for error in body["details"]:
        by_line.setdefault(error["line"], set()).add(error["code"])
        assert error["message"]
    assert by_line[5] == {"INVALID_DATE"}
    assert by_line[6] == {"INVALID_GRADE"}
    assert by_line[7] == {"INVALID_SNILS"}
    assert "GUARDIAN_CONSENT_REQUIRED" in by_line[8]
    assert "DUPLICATE_IN_FILE" in by_line[9]
    assert set(by_line) == {5, 6, 7, 8, 9}  # the three good rows are not blamed
    assert registry.stored() == before  # not one row stored


def test_rows_already_in_the_base_are_reported_by_line(registry: Registry, schools: School) -> None:
    assert upload(registry, schools.school_id, xlsx(GOOD_ROWS[:1])).status_code == 200
    before = registry.stored()
    response = upload(registry, schools.school_id, xlsx(GOOD_ROWS))
    assert response.status_code == 422
    assert [(e["line"], e["code"]) for e in response.json()["details"]] == [(2, "DUPLICATE_PERSON")]
    assert registry.stored() == before


def test_files_that_are_not_tables_are_refused(registry: Registry, schools: School) -> None:
    before = registry.stored()
    garbage = upload(registry, schools.school_id, b"PK\x03\x04 not really a zip", "base.xlsx")
    assert garbage.status_code == 422
    assert {e["code"] for e in garbage.json()["details"]} == {"CORRUPT_FILE"}
    wrong = upload(registry, schools.school_id, b"%PDF-1.4", "base.pdf")
    assert {e["code"] for e in wrong.json()["details"]} == {"UNSUPPORTED_FORMAT"}
    assert registry.stored() == before
