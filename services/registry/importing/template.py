"""The template a curator downloads: the right headers, one example row, instructions."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, Final

from services.registry.importing.categories import CATEGORIES_BY_ROLE, CATEGORY_LABELS, ROLES, Role
from services.registry.importing.headers import COLUMN_TITLES

# The example row of the template; left in by mistake it would import a
# fictional person, so it is recognised and reported.
EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "mentee": {
        "full_name": "Петрова Анна Сергеевна",
        "birth_date": "14.03.2012",
        "category": "обучающийся",
        "grade": "7А",
        "organisation_code": "0101",
        "snils": "112-233-445 95",
        "phone": "+7 912 345-67-89",
        "email": "anna.petrova@example.ru",
        "requests": "подготовка к олимпиаде по математике; адаптация в новом классе",
        "guardian_name": "Петрова Ольга Николаевна",
        "consent": "да",
        "guardian_consent": "да",
    },
    "mentor": {
        "full_name": "Смирнов Алексей Викторович",
        "birth_date": "22.09.1985",
        "category": "педагог",
        "grade": "",
        "organisation_code": "0101",
        "snils": "112-233-445 95",
        "phone": "+7 912 765-43-21",
        "email": "a.smirnov@example.ru",
        "competencies": "математика; олимпиадная подготовка; проектная деятельность",
        "capacity": 3,
        "guardian_name": "",
        "consent": "да",
        "guardian_consent": "",
    },
}
TEMPLATE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "mentee": (
        "full_name", "birth_date", "category", "grade", "organisation_code", "snils", "phone",
        "email", "requests", "guardian_name", "consent", "guardian_consent",
    ),
    "mentor": (
        "full_name", "birth_date", "category", "grade", "organisation_code", "snils", "phone",
        "email", "competencies", "capacity", "guardian_name", "consent", "guardian_consent",
    ),
}  # fmt: skip


def template_xlsx(role: Role) -> bytes:
    """A ready-to-fill workbook: the right headers, one example row, instructions."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    fields = TEMPLATE_FIELDS[role]
    example = EXAMPLES[role]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "Наставляемые" if role == "mentee" else "Наставники"
    sheet.append([COLUMN_TITLES[name] for name in fields])
    sheet.append([example.get(name, "") for name in fields])

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    sheet.freeze_panes = "A2"
    for index, name in enumerate(fields, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 34 if name in ("requests", "competencies") else 22
        if name in ("snils", "phone", "birth_date", "grade", "organisation_code"):
            # Text format keeps leading zeros of СНИЛС/codes and stops Excel
            # from turning "7-Б" or dates into something else.
            for row in range(2, 502):
                sheet.cell(row=row, column=index).number_format = "@"

    def dropdown(name: str, options: Iterable[str]) -> None:
        if name not in fields:
            return
        letter = get_column_letter(fields.index(name) + 1)
        validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
        # Other wordings ("учитель") are accepted by the importer, so the
        # list is a hint rather than a restriction.
        validation.showErrorMessage = False
        validation.add(f"{letter}2:{letter}501")
        sheet.add_data_validation(validation)

    dropdown("category", [CATEGORY_LABELS[c] for c in CATEGORIES_BY_ROLE[role]])
    dropdown("consent", ["да", "нет"])
    dropdown("guardian_consent", ["да", "нет"])

    notes = workbook.create_sheet("Инструкция")
    notes.column_dimensions["A"].width = 34
    notes.column_dimensions["B"].width = 90
    notes.append(["Столбец", "Как заполнять"])
    for cell in notes[1]:
        cell.font = bold
    categories = ", ".join(CATEGORY_LABELS[c] for c in CATEGORIES_BY_ROLE[role])
    hints = {
        "full_name": "Фамилия, имя и отчество (при наличии) полностью, русскими буквами.",
        "birth_date": "ДД.ММ.ГГГГ, например 05.09.2012.",
        "category": f"Одно из значений: {categories}.",
        "grade": "Для обучающихся: номер класса от 1 до 11 и буква, например 7А.",
        "organisation_code": "Код образовательной организации.",
        "snils": "11 цифр, например 112-233-445 95 (необязательно).",
        "phone": "Например +7 912 345-67-89 (необязательно).",
        "email": "Адрес электронной почты (необязательно).",
        "requests": "Запросы наставляемого через точку с запятой.",
        "competencies": "Компетенции наставника через точку с запятой.",
        "capacity": "Сколько наставляемых готов вести наставник: от 1 до 15 (по умолчанию 1).",
        "guardian_name": "Обязательно, если участнику нет 18 лет.",
        "consent": "да — согласие на обработку персональных данных получено.",
        "guardian_consent": "да — согласие законного представителя получено "
        "(обязательно, если участнику нет 18 лет).",
    }
    for name in fields:
        notes.append([COLUMN_TITLES[name], hints[name]])
    notes.append([])
    notes.append(["", "Строка 2 на первом листе — пример. Удалите её перед загрузкой."])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
