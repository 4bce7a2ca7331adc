"""The pair aggregate's rules: meeting order, dates, closed pairs, feedback and its reveal."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pairing.domain import KIND_TITLES, NEXT_KINDS, Pair, check_new_pair
from shared.auth import OrgPath, system_actor
from shared.errors import DomainError
from shared.events import public_payload
from shared.store import CommandContext

FORMED = date(2025, 9, 1)
TODAY = date(2025, 12, 1)
META = CommandContext(system_actor("demo")).meta(OrgPath.parse("demo/m1/school-a"))
KINDS = list(KIND_TITLES)


def seal(data: dict[str, Any]) -> str:
    """A stand-in for the pair's sealer (the service layer's tests use the real vault)."""
    return "sealed:" + json.dumps(data, ensure_ascii=False)


def new_pair(mentees: int = 1) -> Pair:
    return Pair(programme_id=None, organisation_id=uuid4(), form="teacher-student",
                mentor_id=uuid4(), mentee_ids=[uuid4() for _ in range(mentees)], order_ref=None,
                suggested=False, score=None, formed_on=FORMED.isoformat(), meta=META)


def answer_last_meeting(pair: Pair) -> None:
    """Both sides answer about the last meeting (feedback is mandatory before the next one)."""
    if pair.active and pair.meetings:
        for side in pair.feedback_missing():
            who = pair.mentor_id if side == "mentor" else pair.mentee_ids[0]
            pair.submit_feedback(pair.meetings[-1]["number"], who, 8, "", "", META, seal=seal)


def hold(pair: Pair, kind: str, on: date = FORMED) -> int:
    answer_last_meeting(pair)
    return pair.hold_meeting(kind, on, 45, "in_person", TODAY, META)


def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.message
    return caught.value.status, caught.value.code





def test_the_methodologys_order_with_any_number_of_regular_meetings() -> None:
    pair = new_pair()
    numbers = [hold(pair, k) for k in ("intro", "trial", "planning", "regular", "regular",
                                        "regular", "final")]
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    pair.complete(META)
    assert pair.status == "completed"


def test_final_may_follow_planning_directly_but_not_the_trial() -> None:
    pair = new_pair()
    assert pair.next_kinds() == ["intro"]  # what the curator's form offers first
    hold(pair, "intro")
    hold(pair, "trial")
    assert pair.next_kinds() == ["planning"]
    assert code_of(lambda: hold(pair, "final")) == (409, "MEETING_OUT_OF_ORDER")
    hold(pair, "planning")
    assert pair.next_kinds() == ["regular", "final"]
    assert hold(pair, "final") == 4
    assert pair.next_kinds() == []


def test_dates_in_the_future_before_the_pair_or_the_previous_meeting_are_refused() -> None:
    pair = new_pair()
    assert code_of(lambda: hold(pair, "intro", TODAY + timedelta(days=1))) == (
        422, "MEETING_IN_FUTURE")
    assert code_of(lambda: hold(pair, "intro", FORMED - timedelta(days=1))) == (
        422, "MEETING_BEFORE_PAIR")
    hold(pair, "intro", FORMED + timedelta(days=10))
    assert code_of(lambda: hold(pair, "trial", FORMED + timedelta(days=9))) == (
        422, "MEETING_BEFORE_PREVIOUS")
    assert code_of(lambda: pair.hold_meeting("trial", TODAY, 1, "online", TODAY, META)) == (
        422, "INVALID_DURATION")
    assert len(pair.meetings) == 1


def test_a_closed_pair_takes_no_meetings_goals_or_second_ending() -> None:
    pair = new_pair(mentees=3)
    hold(pair, "intro")
    assert code_of(lambda: pair.complete(META)) == (409, "FINAL_MEETING_REQUIRED")
    assert code_of(lambda: pair.dissolve(" ", META, seal=seal)) == (422, "REASON_REQUIRED")
    returned = pair.dissolve_on_withdrawal(META, withdrawn_ids=[pair.mentee_ids[1]])
    assert returned == [pair.mentee_ids[0], pair.mentee_ids[2]]
    assert code_of(lambda: hold(pair, "trial")) == (409, "PAIR_CLOSED")
    assert code_of(lambda: pair.set_goal(uuid4(), "Цель", None, "planned", META, seal=seal)) == (
        409, "PAIR_CLOSED")
    assert code_of(lambda: pair.dissolve("ещё раз", META, seal=seal)) == (409, "PAIR_CLOSED")
    assert code_of(lambda: pair.complete(META)) == (409, "PAIR_CLOSED")
    # Feedback is about a meeting that took place: still accepted after the pair closed.
    pair.submit_feedback(1, pair.mentor_id, 6, "", "", META, seal=seal)


def test_new_pair_rules() -> None:
    mentor, mentee = uuid4(), uuid4()
    assert code_of(lambda: check_new_pair(mentor, [])) == (422, "MENTEES_REQUIRED")
    assert code_of(lambda: check_new_pair(mentor, [mentee, mentee])) == (422, "DUPLICATE_MENTEE")
    assert code_of(lambda: check_new_pair(mentor, [mentor])) == (422, "SAME_PERSON")


def test_feedback_is_revealed_to_a_side_only_after_it_answered() -> None:
    pair = new_pair(mentees=2)
    hold(pair, "intro")
    first, second = pair.mentee_ids
    assert pair.feedback_visible_to(1, pair.mentor_id) == []
    pair.submit_feedback(1, first, 8, "Понятные задания", "Больше примеров", META, seal=seal)
    assert pair.feedback_visible_to(1, pair.mentor_id) == []
    assert [r["respondent_id"] for r in pair.feedback_visible_to(1, first)] == [str(first)]
    # A fellow mentee of the group sees neither side before answering, nor a peer's afterwards.
    assert pair.feedback_visible_to(1, second) == []
    pair.submit_feedback(1, pair.mentor_id, 9, "Хороший контакт", "", META, seal=seal)
    assert {r["side"] for r in pair.feedback_visible_to(1, first)} == {"mentee", "mentor"}
    assert {r["respondent_id"] for r in pair.feedback_visible_to(1, pair.mentor_id)} == {
        str(first), str(pair.mentor_id)}
    pair.submit_feedback(1, second, 7, "", "", META, seal=seal)
    assert {r["respondent_id"] for r in pair.feedback_visible_to(1, second)} == {
        str(second), str(pair.mentor_id)}
    assert len(pair.feedback_visible_to(1, None)) == 3  # the curator
    assert pair.feedback_visible_to(1, uuid4()) == []  # an outsider


def test_feedback_rules() -> None:
    pair = new_pair()
    assert code_of(lambda: pair.submit_feedback(1, pair.mentor_id, 5, "", "", META, seal=seal)) == (
        404, "MEETING_NOT_FOUND")
    hold(pair, "intro")
    assert code_of(lambda: pair.submit_feedback(1, uuid4(), 5, "", "", META, seal=seal)) == (
        422, "NOT_A_MEMBER")
    for bad in (0, 11):
        assert code_of(lambda b=bad: pair.submit_feedback(1, pair.mentor_id, b, "", "", META, seal=seal)) == (
            422, "INVALID_SATISFACTION")
    assert pair.submit_feedback(1, pair.mentor_id, 10, "", "", META, seal=seal) == "mentor"
    assert code_of(lambda: pair.submit_feedback(1, pair.mentor_id, 9, "", "", META, seal=seal)) == (
        409, "FEEDBACK_ALREADY_SUBMITTED")


def test_the_next_meeting_waits_for_both_sides_feedback_on_the_previous_one() -> None:
    pair = new_pair(mentees=2)
    hold(pair, "intro")

    def trial(reason: str | None = None) -> int:
        return pair.hold_meeting("trial", FORMED, 45, "in_person", TODAY, META,
                                 missing_feedback_reason=reason, seal=seal)

    with pytest.raises(DomainError) as caught:
        trial()
    assert (caught.value.status, caught.value.code) == (409, "FEEDBACK_MISSING")
    assert "встрече № 1 от наставника и наставляемого" in caught.value.message
    pair.submit_feedback(1, pair.mentor_id, 8, "", "", META, seal=seal)
    with pytest.raises(DomainError) as caught:
        trial()
    assert "от наставляемого" in caught.value.message and "наставника" not in caught.value.message
    # One answer of the group's mentees' side is enough.
    pair.submit_feedback(1, pair.mentee_ids[1], 7, "", "", META, seal=seal)
    assert pair.feedback_missing() == []
    assert trial() == 2
    # Meeting 2 has no feedback: a blank reason is no reason; a given one is sealed and kept.
    assert code_of(lambda: pair.hold_meeting("planning", FORMED, 45, "online", TODAY, META,
                                             missing_feedback_reason="  ", seal=seal)) == (
        409, "FEEDBACK_MISSING")
    assert pair.hold_meeting("planning", FORMED, 45, "online", TODAY, META,
                             missing_feedback_reason=" Наставляемый болел ", seal=seal) == 3
    assert pair.meetings[1]["missing_feedback_sealed"] == seal({"reason": "Наставляемый болел"})
    assert pair.feedback_missing() == ["mentor", "mentee"]  # meeting 3 waits in its turn
    held = [vars(e) for e in pair.collect_events() if type(e).__name__ == "MeetingHeld"]
    assert held[-1]["sealed"] is not None
    # The reason, not even sealed, never reaches the bus.
    public = public_payload("MeetingHeld", held[-1])
    assert "sealed" not in public and "болел" not in json.dumps(public, ensure_ascii=False)


command = st.tuples(
    st.sampled_from(KINDS + ["final", "regular"]),  # weight the kinds a little towards the end
    st.integers(-5, 100),  # days after the pair was formed; TODAY is 91 days after
    st.sampled_from([True, True, True, False]),  # False: complete or dissolve instead
    st.sampled_from(["complete", "dissolve"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(command, max_size=25))
def test_no_sequence_of_commands_yields_an_out_of_order_meeting(
        commands: list[tuple[str, int, bool, str]]) -> None:
    pair = new_pair()
    for kind, offset, is_meeting, ending in commands:
        try:
            if is_meeting:
                hold(pair, kind, FORMED + timedelta(days=offset))
            elif ending == "complete":
                pair.complete(META)
            else:
                pair.dissolve("Причина", META, seal=seal)
        except DomainError as exc:
            assert 400 <= exc.status < 500 and exc.message
    events = pair.collect_events()
    meetings = [vars(e) for e in events if type(e).__name__ == "MeetingHeld"]
    previous: str | None = None
    for number, meeting in enumerate(meetings, start=1):
        assert meeting["kind"] in NEXT_KINDS[previous]
        assert meeting["number"] == number
        assert FORMED.isoformat() <= meeting["date"] <= TODAY.isoformat()
        previous = meeting["kind"]
    assert [m["date"] for m in meetings] == sorted(m["date"] for m in meetings)
    # Nothing happens to a pair after it closed, and it completes only after a final meeting.
    names = [type(e).__name__ for e in events]
    endings = [i for i, n in enumerate(names) if n in ("PairCompleted", "PairDissolved")]
    assert len(endings) <= 1 and (not endings or endings[0] == len(names) - 1)
    if "PairCompleted" in names:
        assert previous == "final"


def test_the_aggregate_round_trips_through_its_events() -> None:
    pair = new_pair(mentees=2)
    hold(pair, "intro")
    pair.set_goal(UUID(int=1), "Подготовка к олимпиаде", date(2026, 1, 15), "in_progress", META, seal=seal)
    pair.submit_feedback(1, pair.mentor_id, 9, "текст", "", META, seal=seal)
    events = pair.collect_events()
    copy: Pair | None = None
    for e in events:
        copy = e.mutate(copy)  # type: ignore[arg-type]
    assert copy is not None
    assert copy.meetings == pair.meetings and copy.goals == pair.goals
    assert copy.feedback == pair.feedback and copy.mentee_ids == pair.mentee_ids
