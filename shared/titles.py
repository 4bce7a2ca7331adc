"""The Russian words for the codes events and records carry, for every text a person reads
(pages, the audit trail, notifications): one list, so a page and a letter never disagree."""

from __future__ import annotations

#: The forms of mentorship of the federal recommendations (the pairing service's catalogue);
#: a region's own form is shown as it was typed.
FORM_TITLES = {
    "student-student": "Ученик – ученик", "teacher-teacher": "Учитель – учитель",
    "experienced-young-teacher": "Опытный педагог – молодой специалист",
    "teacher-peer": "Педагог – педагог (равный – равному)", "college-student": "Студент – ученик",
    "employer-student": "Работодатель – ученик", "teacher-student": "Учитель – ученик",
    "student-teacher": "Ученик – учитель (обратное наставничество)",
    "college-college": "Студент – студент", "employer-college": "Работодатель – студент",
}
MEETING_KINDS = {"intro": "знакомство", "trial": "пробная", "planning": "планирование",
                 "regular": "регулярная", "final": "итоговая"}


def form_title(value: str | None) -> str:
    return FORM_TITLES.get(value or "", value or "—")
