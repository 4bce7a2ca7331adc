"""How the pairing reads the registry's categories and forms, and its shipped configuration."""

from __future__ import annotations

from services.pairing.config import load_config
from services.pairing.matching import DEFAULT_WEIGHTS, MenteeProfile, MentorProfile, check_hard_rules
from services.pairing.pools import PAIRING_FORMS, matching_category, resolve_form
from services.registry.domain import MENTEE_CATEGORIES, MENTOR_CATEGORIES


def test_every_registry_category_maps_onto_a_matching_category() -> None:
    for category in MENTEE_CATEGORIES | MENTOR_CATEGORIES:
        assert matching_category(category) is not None, category
    assert matching_category("astronaut") is None


def test_forms_with_teacher_mentees_admit_the_registrys_young_teachers() -> None:
    # The registry registers a teacher-mentee only as young_teacher (MENTEE_CATEGORIES has no
    # "teacher"), so peer and reverse mentorship must accept that category.
    for code in ("teacher-peer", "student-teacher", "teacher-teacher"):
        assert "young_teacher" in PAIRING_FORMS[code].mentee_categories
    mentee = MenteeProfile("e", "young_teacher", "s", "m", 25, None, frozenset(), frozenset(), True)
    mentor = MentorProfile("t", "teacher", "s", "m", 45, None, frozenset(), frozenset(), 1, 0, True)
    assert check_hard_rules(mentee, mentor, PAIRING_FORMS["teacher-peer"]) is None
    assert PAIRING_FORMS["student-student"].mentee_categories == {"student"}


def test_forms_are_found_by_code_or_russian_title() -> None:
    assert resolve_form("teacher-student") is PAIRING_FORMS["teacher-student"]
    assert resolve_form("Учитель – ученик") is PAIRING_FORMS["teacher-student"]
    assert resolve_form("ученик — учитель") is PAIRING_FORMS["student-teacher"]
    assert resolve_form("студент – ученик") is PAIRING_FORMS["college-student"]
    assert resolve_form("неизвестная форма") is None


def test_the_shipped_configuration_is_the_documented_default() -> None:
    config = load_config()
    assert config.weights == DEFAULT_WEIGHTS
    assert config.objective == "max_score" and config.reminder_days == 30
