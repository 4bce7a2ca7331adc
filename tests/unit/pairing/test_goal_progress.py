"""A goal's progress on the pairing's service layer: the pair's members mark it themselves (a
mentor from a partner organisation too), the pair's curator may, nobody else; the wording and
the due date stay as the curator set them."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from services.pairing.application import PairingService
from services.pairing.commands import DissolvePair, GoalProgress, SetGoal
from shared.store import CommandContext
from tests.unit.pairing.conftest import SCHOOL_A, SCHOOL_B, FakeRegistry, curator, participant
from tests.unit.pairing.test_service_layer import form, refused


def goals(pairing: PairingService, pair_id: object) -> list[tuple[str, str | None, str]]:
    return [(g["title"], g["due"], g["status"])
            for g in pairing.get_pair(curator(SCHOOL_A).actor, pair_id)["goals"]]


def test_members_mark_their_goals_progress(pairing: PairingService, registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    goal = pairing.set_goal(curator(SCHOOL_A), pair_id,
                            SetGoal(title="Подготовиться к олимпиаде", due=date(2026, 3, 1)))

    pairing.mark_goal(CommandContext(participant(mentee)), pair_id, goal,
                      GoalProgress(status="in_progress"))
    assert goals(pairing, pair_id) == [("Подготовиться к олимпиаде", "2026-03-01", "in_progress")]
    pairing.mark_goal(CommandContext(participant(mentor)), pair_id, goal, GoalProgress(status="done"))
    # The member sees it too, as their own pair's page shows it.
    assert [g["status"] for g in pairing.get_pair(participant(mentee), pair_id)["goals"]] == ["done"]
    pairing.mark_goal(curator(SCHOOL_A), pair_id, goal, GoalProgress(status="in_progress"))
    assert goals(pairing, pair_id)[0][2] == "in_progress"


def test_nobody_else_marks_a_goal(pairing: PairingService, registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    goal = pairing.set_goal(curator(SCHOOL_A), pair_id, SetGoal(title="Прочитать три книги"))
    done = GoalProgress(status="done")
    # Another pair's member and another school's curator: as if the pair did not exist.
    refused("PAIR_NOT_FOUND", pairing.mark_goal, CommandContext(participant(uuid4())), pair_id,
            goal, done)
    refused("PAIR_NOT_FOUND", pairing.mark_goal, curator(SCHOOL_B), pair_id, goal, done)
    refused("GOAL_NOT_FOUND", pairing.mark_goal, CommandContext(participant(mentee)), pair_id,
            uuid4(), done)
    assert goals(pairing, pair_id)[0][2] == "planned"
    # A pair whose work has ended keeps its plan as it was.
    pairing.dissolve(curator(SCHOOL_A), pair_id, DissolvePair(reason="Переезд семьи"))
    refused("PAIR_CLOSED", pairing.mark_goal, CommandContext(participant(mentee)), pair_id,
            goal, done)
