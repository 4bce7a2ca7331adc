"""From checked rows to registration commands, and the refusal of a file in the curator's words."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.registry.commands import PersonalData, RegisterMentee, RegisterMentor
from services.registry.importing.rows import PersonRow
from shared.errors import DomainError
from shared.web import VALIDATION_MESSAGES


def command_from_row(row: PersonRow, organisation_id: UUID) -> RegisterMentor | RegisterMentee:
    guardian = row.guardian_name is not None and row.guardian_consent
    person = PersonalData(
        last_name=row.full_name.last, first_name=row.full_name.first,
        middle_name=row.full_name.middle, birth_date=row.birth_date, snils=row.snils,
        phone=row.phone, email=row.email,
        guardian_name=str(row.guardian_name) if row.guardian_name else None)
    common = {"organisation_id": organisation_id, "category": row.category, "person": person,
              "consent_given_by": "guardian" if guardian else "self",
              "class_letter": row.class_letter}
    if row.role == "mentor":
        return RegisterMentor(**common, competencies=list(row.competencies),
                              capacity=row.capacity or 1, grade=row.grade)
    return RegisterMentee(**common, grade=row.grade, requests=list(row.requests))


def row_problem(exc: ValueError) -> str:
    """A row the importer passed but a command refused, said in Russian (pydantic says it in
    English): the field and what is wrong with it."""
    if not isinstance(exc, ValidationError):
        return str(getattr(exc, "message_ru", exc))

    def said(error: Any) -> str:
        problem = error.get("ctx", {}).get("error")
        message = getattr(problem, "message_ru", None)
        return message or VALIDATION_MESSAGES.get(error["type"], "недопустимое значение")

    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {said(e)}" for e in exc.errors())


def import_error(errors: list[dict[str, Any]]) -> DomainError:
    return DomainError("IMPORT_REJECTED",
                       f"Файл не загружен: ошибок — {len(errors)}. Исправьте строки и загрузите снова",
                       422, details=errors)
