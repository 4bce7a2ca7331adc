"""Questionnaires as configuration, answer validation, satisfaction and growth — by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.monitoring import kpi, surveys
from services.monitoring.dashboards import DashboardFold, FoldSettings, render_dashboard, rolled_counts
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.events import SurveyRecorded


@pytest.fixture(scope="module")
def questionnaires() -> dict[str, surveys.Questionnaire]:
    return surveys.load_questionnaires()


def test_default_questionnaires_cover_both_stages_and_all_roles(
        questionnaires: dict[str, surveys.Questionnaire]) -> None:
    quality = {q.respondent_role for q in questionnaires.values() if q.stage == "quality"}
    assert quality == {"mentor", "mentee", "curator"}
    growth = questionnaires["growth-student"]
    assert growth.stage == "growth"
    assert {q.dimension for q in growth.questions} == {"motivational", "competency", "professional"}
    assert all(q.scale_min == 1 and q.scale_max == 10 for q in growth.questions)
    assert [q.code for q in surveys.questionnaires_for(
        questionnaires, "growth", "mentee", "experienced-young-teacher")] == ["growth-teacher"]
    assert [q.code for q in surveys.questionnaires_for(
        questionnaires, "quality", "mentor", "student-student")] == ["quality-mentor"]


def quality_answers(**scores: int) -> dict[str, Any]:
    base = {"overall": 9, "meetings_useful": 8, "mentor_attention": 10, "goals_clear": 7,
            "organisation": 6}
    return {"survey": "quality-mentee", "stage": "quality", "respondent_role": "mentee",
            "respondent_id": str(uuid4()), "pair_id": str(uuid4()), "form": "student-student",
            "answers": {**base, **scores}}


def test_clean_answers_become_a_survey_recorded_payload(
        questionnaires: dict[str, surveys.Questionnaire]) -> None:
    answers = quality_answers()
    recorded = surveys.validate_answers(questionnaires, answers)
    assert isinstance(recorded, SurveyRecorded)
    assert recorded.survey == "quality-mentee" and recorded.stage == "quality"
    assert recorded.respondent_id == UUID(answers["respondent_id"])
    assert recorded.scores == answers["answers"]
    assert recorded.form == "student-student"


def test_every_bad_answer_is_named_in_russian(
        questionnaires: dict[str, surveys.Questionnaire]) -> None:
    answers = quality_answers(overall=11, meetings_useful=0, shoe_size=42)
    answers["answers"]["goals_clear"] = 7.5
    del answers["answers"]["organisation"]
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(questionnaires, answers)
    error = caught.value
    assert (error.code, error.status) == ("INVALID_SURVEY_ANSWERS", 422)
    assert error.message == "Ответы на анкету заполнены с ошибками"
    problems = {d["question"]: (d["code"], d["message"]) for d in error.details}
    assert problems == {
        "overall": ("SCORE_OUT_OF_RANGE", "Оценка должна быть от 1 до 10"),
        "meetings_useful": ("SCORE_OUT_OF_RANGE", "Оценка должна быть от 1 до 10"),
        "shoe_size": ("UNKNOWN_QUESTION", "В анкете нет такого вопроса"),
        "goals_clear": ("SCORE_NOT_INTEGER", "Оценка должна быть целым числом"),
        "organisation": ("ANSWER_MISSING", "Нет ответа на обязательный вопрос"),
    }


def test_a_boolean_is_not_a_score(questionnaires: dict[str, surveys.Questionnaire]) -> None:
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(questionnaires, quality_answers(overall=True))
    assert caught.value.details == [{"question": "overall", "code": "SCORE_NOT_INTEGER",
                                     "message": "Оценка должна быть целым числом"}]


@pytest.mark.parametrize("change, code", [
    ({"survey": "no-such"}, "QUESTIONNAIRE_NOT_FOUND"),
    ({"stage": "growth_entry"}, "SURVEY_STAGE_MISMATCH"),
    ({"respondent_role": "mentor"}, "SURVEY_ROLE_MISMATCH"),
    ({"stage": "final"}, "INVALID_SURVEY_ANSWERS"),
])
def test_answers_to_the_wrong_questionnaire_are_refused(
        questionnaires: dict[str, surveys.Questionnaire], change: dict[str, str], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(questionnaires, {**quality_answers(), **change})
    assert caught.value.code == code
    assert any("а" <= ch <= "я" for ch in caught.value.message.lower())


def growth_answers(stage: str, respondent: UUID | None, form: str = "student-student",
                   **scores: int) -> dict[str, Any]:
    return {"survey": "growth-student", "stage": stage, "respondent_role": "mentee",
            "respondent_id": respondent and str(respondent), "form": form, "answers": scores}


def test_growth_questionnaire_needs_its_form_and_a_respondent(
        questionnaires: dict[str, surveys.Questionnaire]) -> None:
    scores = dict(motivation_learning=5, motivation_confidence=5, competency_subject=5,
                  competency_teamwork=5, professional_choice=5)
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(questionnaires, growth_answers(
            "growth_entry", uuid4(), form="teacher-teacher", **scores))
    assert caught.value.code == "SURVEY_FORM_MISMATCH"
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(questionnaires, growth_answers("growth_entry", None, **scores))
    assert caught.value.code == "RESPONDENT_REQUIRED"
    recorded = surveys.validate_answers(questionnaires, growth_answers("growth_exit", uuid4(),
                                                                       **scores))
    assert recorded.stage == "growth_exit"


def test_region_questionnaire_replaces_and_bad_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'code = "quality-mentee"\ntitle = "Наша анкета"\nstage = "quality"\n'
        'respondent_role = "mentee"\n[[question]]\nkey = "overall"\ntext = "Довольны?"\n'
        'scale_min = 1\nscale_max = 5\noverall = true\n', encoding="utf-8")
    found = surveys.load_questionnaires(tmp_path)
    assert [q.key for q in found["quality-mentee"].questions] == ["overall"]
    with pytest.raises(DomainError) as caught:
        surveys.validate_answers(found, {**quality_answers(), "answers": {"overall": 6}})
    assert caught.value.details[0]["message"] == "Оценка должна быть от 1 до 5"

    (tmp_path / "broken.toml").write_text(
        'code = "g"\ntitle = "Рост"\nstage = "growth"\nrespondent_role = "mentee"\n'
        '[[question]]\nkey = "a"\ntext = "Вопрос без направления"\n', encoding="utf-8")
    with pytest.raises(DomainError) as caught:
        surveys.load_questionnaires(tmp_path)
    assert caught.value.code == "INVALID_QUESTIONNAIRE"
    assert "broken.toml" in caught.value.message


def quality(role: str, overall: int, respondent: UUID | None = None,
            pair: UUID | None = None) -> SurveyRecorded:
    survey = {"mentor": "quality-mentor", "mentee": "quality-mentee",
              "curator": "quality-curator"}[role]
    return SurveyRecorded(survey=survey, stage="quality", respondent_role=role,  # type: ignore[arg-type]
                          respondent_id=respondent or uuid4(), pair_id=pair,
                          scores={"overall": overall, "other": 1})


def dashboards(records: list[tuple[str, SurveyRecorded]], threshold: int = 8,
               min_group: int = 5) -> dict[str, dict[str, Any]]:
    """The production fold over these answers, rendered at every level they reach."""
    settings = FoldSettings(catalogue=kpi.load_catalogue().model_copy(update={
        "settings": kpi.CatalogueSettings(min_group=min_group, satisfaction_threshold=threshold)}))
    fold = DashboardFold(settings)
    for path, record in records:
        org = OrgPath.parse(path)
        fold.apply({"type": "SurveyRecorded", "schema_version": 1, "org": org.model_dump(),
                    "aggregate_id": str(uuid4()), "occurred_at": "2025-12-01T10:00:00+00:00",
                    "payload": record.model_dump(mode="json")})
    counts, where = rolled_counts(fold)
    return {scope: render_dashboard(scope, where[scope][0], counts[scope], {}, settings)
            for scope in counts}


def kpi_of(dashboard: dict[str, Any], code: str = "participants_satisfied") -> dict[str, Any]:
    return next(k for k in dashboard["kpis"] if k["code"] == code)


def test_satisfaction_feeds_the_kpi() -> None:
    changed_mind, busy_mentor = uuid4(), uuid4()
    records = [
        # school 1: mentee scores 9, 8, 7, 10; a mentor 8; one mentee first said 5 then 9
        ("demo/m1/s1", quality("mentee", 9)), ("demo/m1/s1", quality("mentee", 8)),
        ("demo/m1/s1", quality("mentee", 7)), ("demo/m1/s1", quality("mentee", 10)),
        ("demo/m1/s1", quality("mentor", 8)),
        ("demo/m1/s1", quality("mentee", 5, changed_mind)),
        ("demo/m1/s1", quality("mentee", 9, changed_mind)),
        # the curator's own satisfaction is not a participant's
        ("demo/m1/s1", quality("curator", 2)),
        # school 2: 3 participants, 1 satisfied
        ("demo/m1/s2", quality("mentee", 8)), ("demo/m1/s2", quality("mentor", 6)),
        ("demo/m1/s2", quality("mentor", 1)),
    ]
    shown = dashboards(records)
    school_1 = kpi_of(shown["demo/m1/s1"])
    assert (school_1["numerator"], school_1["denominator"], school_1["percent"]) == (5, 6, "83,3 %")
    assert school_1["met"] is True
    assert kpi_of(shown["demo/m1/s2"])["suppressed"]  # 3 people
    municipality = kpi_of(shown["demo/m1"])
    assert (municipality["numerator"], municipality["denominator"], municipality["percent"]) == (
        6, 9, "66,7 %")
    # a stricter region: 9 and above
    assert kpi_of(dashboards(records, threshold=9)["demo/m1/s1"])["numerator"] == 3

    by_role = dashboards(records, min_group=3)["demo/m1"]["satisfaction"]["survey"]
    assert by_role["mentee"] == {"count": 6, "mean": round((9 + 8 + 7 + 10 + 9 + 8) / 6, 2),
                                 "suppressed": False}
    assert by_role["mentor"] == {"count": 3, "mean": 5.0, "suppressed": False}  # (8 + 6 + 1) / 3
    assert by_role["curator"] == {"count": "<3", "mean": None, "suppressed": True}

    # One mentor with six pairs answers six times: six answers, one person — nothing shown.
    one_person = [("demo/m1/s3", quality("mentor", 9, busy_mentor, uuid4())) for _ in range(6)]
    alone = dashboards(one_person)["demo/m1/s3"]
    assert alone["satisfaction"]["survey"]["mentor"] == {"count": "<5", "mean": None,
                                                         "suppressed": True}
    assert kpi_of(alone)["suppressed"] and kpi_of(alone)["numerator"] == "<5"


def growth_record(stage: str, respondent: UUID, motivational: tuple[int, int],
                  competency: tuple[int, int], professional: int) -> SurveyRecorded:
    return SurveyRecorded(
        survey="growth-student", stage=stage, respondent_role="mentee",  # type: ignore[arg-type]
        respondent_id=respondent, form="student-student",
        scores={"motivation_learning": motivational[0], "motivation_confidence": motivational[1],
                "competency_subject": competency[0], "competency_teamwork": competency[1],
                "professional_choice": professional})


def test_growth_is_exit_mean_minus_entry_mean_per_participant(
        questionnaires: dict[str, surveys.Questionnaire]) -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    records = [
        growth_record("growth_entry", a, (4, 6), (3, 5), 5),   # means: m 5, c 4, p 5, all 4.6
        growth_record("growth_exit", a, (7, 9), (6, 6), 8),    # means: m 8, c 6, p 8, all 7.2
        growth_record("growth_entry", b, (8, 8), (7, 7), 9),   # m 8, c 7, p 9, all 7.8
        growth_record("growth_exit", b, (7, 7), (9, 9), 9),    # m 7, c 9, p 9, all 8.2
        growth_record("growth_entry", c, (5, 5), (5, 5), 5),   # no exit yet: not counted
    ]
    grown = surveys.participant_growth(questionnaires["growth-student"],
                                       records[0].scores, records[1].scores)
    assert grown == pytest.approx({"motivational": 3.0, "competency": 2.0, "professional": 3.0,
                                   "overall": 2.6})
    summary = dashboards([("demo/m1/s1", r) for r in records], min_group=2)["demo/m1/s1"]["growth"]
    # a: +3, +2, +3, +2.6; b: −1, +2, 0, +0.4 → means over the two participants
    assert summary["motivational"] == {"count": 2, "mean": 1.0, "suppressed": False}
    assert summary["competency"] == {"count": 2, "mean": 2.0, "suppressed": False}
    assert summary["professional"] == {"count": 2, "mean": 1.5, "suppressed": False}
    assert summary["overall"] == {"count": 2, "mean": 1.5, "suppressed": False}
    # two participants are too few to show under the default limit of five
    default = dashboards([("demo/m1/s1", r) for r in records])["demo/m1/s1"]["growth"]
    assert default["overall"] == {"count": "<5", "mean": None, "suppressed": True}
