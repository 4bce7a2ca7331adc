"""The Russian words for the codes events and records carry, for every text a person reads
(pages, the audit trail, notifications): one list, so a page and a letter never disagree."""

from __future__ import annotations

from shared.mentorship_forms import METHODOLOGY_FORMS

#: The forms of mentorship of the federal recommendations (``shared.mentorship_forms``); a
#: region's own form is shown as it was typed.
FORM_TITLES = METHODOLOGY_FORMS
#: The registry's categories of participants.
CATEGORY_TITLES = {"student": "обучающийся", "teacher": "педагог", "young_teacher": "молодой педагог",
                   "college_student": "студент колледжа", "university_student": "студент вуза",
                   "employer": "представитель работодателя", "graduate": "выпускник",
                   "parent": "родитель", "partner": "партнёр"}
MEETING_KINDS = {"intro": "знакомство", "trial": "пробная", "planning": "планирование",
                 "regular": "регулярная", "final": "итоговая"}


def form_title(value: str | None) -> str:
    return FORM_TITLES.get(value or "", value or "—")


def category_title(value: str) -> str:
    """A participant's category in Russian; a region's own category as it was typed."""
    return CATEGORY_TITLES.get(value, value)
