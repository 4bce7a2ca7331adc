"""The pairing's service layer alone: rules and rights of forming pairs, meetings, feedback and
consent withdrawal, on an in-memory store with a fake registry (no NATS, no files)."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest

from services.pairing.application import PairingService
from services.pairing.commands import DissolvePair, FormPair, HoldMeeting, Scope, SubmitFeedback
from shared.auth import Actor, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.pairing.conftest import (
    MUNICIPALITY,
    SCHOOL_A,
    SCHOOL_B,
    TODAY,
    FakeRegistry,
    curator,
    participant,
)

FORM = "teacher-student"


def form(pairing: PairingService, school, mentor, *mentees) -> object:  # noqa: ANN001
    return pairing.form_pair(curator(school), FormPair(form=FORM, mentor_id=mentor,
                                                       mentee_ids=list(mentees)))


def meeting(kind: str, days_ago: int = 0) -> HoldMeeting:
    return HoldMeeting(kind=kind, date=TODAY - timedelta(days=days_ago), duration_minutes=45)


def refused(code: str, call, *args) -> DomainError:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        call(*args)
    assert info.value.code == code, info.value
    return info.value


def test_a_pair_is_formed_from_the_pools_and_read_back(pairing: PairingService,
                                                       registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    pair = pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
    assert (pair["mentor_id"], pair["mentee_ids"], pair["status"]) == (str(mentor), [str(mentee)], "active")
    assert pairing.pool(curator(SCHOOL_A).actor, registry.ids[SCHOOL_A])["mentors"][0]["load"] == 1


def test_forming_a_pair_refuses_a_mentor_without_capacity(pairing: PairingService,
                                                          registry: FakeRegistry) -> None:
    mentor = registry.mentor(SCHOOL_A, capacity=1)
    form(pairing, SCHOOL_A, mentor, registry.mentee(SCHOOL_A))
    error = refused("NO_CAPACITY", form, pairing, SCHOOL_A, mentor, registry.mentee(SCHOOL_A))
    assert error.status == 409


def test_a_group_larger_than_the_free_places_is_refused_whole(pairing: PairingService,
                                                              registry: FakeRegistry) -> None:
    mentor = registry.mentor(SCHOOL_A, capacity=2)
    mentees = [registry.mentee(SCHOOL_A) for _ in range(3)]
    refused("NO_CAPACITY", form, pairing, SCHOOL_A, mentor, *mentees)
    assert pairing.list_pairs(curator(SCHOOL_A).actor) == []


def test_a_paired_mentee_is_not_paired_twice(pairing: PairingService, registry: FakeRegistry) -> None:
    mentee = registry.mentee(SCHOOL_A)
    form(pairing, SCHOOL_A, registry.mentor(SCHOOL_A), mentee)
    refused("MENTEE_ALREADY_PAIRED", form, pairing, SCHOOL_A, registry.mentor(SCHOOL_A), mentee)


def test_a_curator_of_school_a_cannot_pair_or_read_school_b(pairing: PairingService,
                                                            registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_B), registry.mentee(SCHOOL_B)
    # Someone else's mentee answers as if there were none.
    refused("MENTEE_NOT_FOUND", form, pairing, SCHOOL_A, mentor, mentee)
    pair_id = form(pairing, SCHOOL_B, mentor, mentee)
    refused("PAIR_NOT_FOUND", pairing.get_pair, curator(SCHOOL_A).actor, pair_id)
    refused("PAIR_NOT_FOUND", pairing.hold_meeting, curator(SCHOOL_A), pair_id, meeting("intro"))
    assert pairing.list_pairs(curator(SCHOOL_A).actor) == []


def test_an_auditor_reads_but_never_forms(pairing: PairingService, registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    auditor = Actor(user="auditor", role=Role.AUDITOR, scope=SCHOOL_A)
    refused("FORBIDDEN", pairing.form_pair, CommandContext(auditor),
            FormPair(form=FORM, mentor_id=mentor, mentee_ids=[mentee]))
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    assert pairing.get_pair(auditor, pair_id)["id"] == str(pair_id)


def test_meetings_are_held_in_the_methodology_order(pairing: PairingService,
                                                    registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    ctx = curator(SCHOOL_A)

    def answered(number: int) -> None:
        for who in (mentor, mentee):
            pairing.submit_feedback(ctx, pair_id, SubmitFeedback(
                meeting_number=number, satisfaction=8, respondent_id=who))

    refused("MEETING_OUT_OF_ORDER", pairing.hold_meeting, ctx, pair_id, meeting("trial"))
    numbers = []
    for kind in ("intro", "trial", "planning", "regular", "final"):
        numbers.append(pairing.hold_meeting(ctx, pair_id, meeting(kind)))
        answered(numbers[-1])
    assert numbers == [1, 2, 3, 4, 5]
    refused("MEETING_OUT_OF_ORDER", pairing.hold_meeting, ctx, pair_id, meeting("regular"))
    refused("MEETING_IN_FUTURE", pairing.hold_meeting, ctx, pair_id,
            HoldMeeting(kind="final", date=TODAY + timedelta(days=1), duration_minutes=45))
    pairing.complete(ctx, pair_id)
    assert pairing.get_pair(ctx.actor, pair_id)["status"] == "completed"


def test_the_next_meeting_waits_for_feedback_or_the_curators_reason(
        pairing: PairingService, registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    ctx = curator(SCHOOL_A)
    pairing.hold_meeting(ctx, pair_id, meeting("intro"))
    pairing.submit_feedback(ctx, pair_id, SubmitFeedback(meeting_number=1, satisfaction=8,
                                                         respondent_id=mentor))
    assert pairing.get_pair(ctx.actor, pair_id)["feedback_missing"] == ["mentee"]
    error = refused("FEEDBACK_MISSING", pairing.hold_meeting, ctx, pair_id, meeting("trial"))
    assert error.status == 409 and "от наставляемого" in error.message
    reason = "Наставляемый болел, отзыв не получен"
    assert pairing.hold_meeting(ctx, pair_id, HoldMeeting(
        kind="trial", date=TODAY, duration_minutes=45, missing_feedback_reason=reason)) == 2
    pair = pairing.get_pair(ctx.actor, pair_id)
    assert [m["missing_feedback_reason"] for m in pair["meetings"]] == [reason, None]
    assert pair["feedback_missing"] == ["mentor", "mentee"]
    assert "missing_feedback_sealed" not in pair["meetings"][0]
    # Only ciphertext is stored: the reason is nowhere in the events in the clear.
    stored = b"".join(n.state for n in pairing.events.notifications_after(0, 10_000))
    assert "болел".encode() not in stored and b"\\u0431\\u043e\\u043b" not in stored


def test_a_pair_completes_only_after_the_final_meeting(pairing: PairingService,
                                                       registry: FakeRegistry) -> None:
    pair_id = form(pairing, SCHOOL_A, registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A))
    pairing.hold_meeting(curator(SCHOOL_A), pair_id, meeting("intro"))
    refused("FINAL_MEETING_REQUIRED", pairing.complete, curator(SCHOOL_A), pair_id)


def test_a_participant_answers_for_themself_about_their_own_pair(pairing: PairingService,
                                                                 registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    pairing.hold_meeting(curator(SCHOOL_A), pair_id, meeting("intro"))
    me = CommandContext(participant(mentee))
    answer = SubmitFeedback(meeting_number=1, satisfaction=9)
    assert pairing.submit_feedback(me, pair_id, answer) == "mentee"
    refused("FORBIDDEN", pairing.submit_feedback, me, pair_id,
            SubmitFeedback(meeting_number=1, satisfaction=9, respondent_id=mentor))
    stranger = CommandContext(participant(uuid4()))
    refused("PAIR_NOT_FOUND", pairing.submit_feedback, stranger, pair_id, answer)
    refused("PAIR_NOT_FOUND", pairing.get_pair, participant(uuid4()), pair_id)
    # The mentor has not answered yet: the mentee sees only their own answer.
    assert [f["side"] for f in pairing.feedback(participant(mentee), pair_id, 1)] == ["mentee"]
    assert pairing.feedback(participant(mentor), pair_id, 1) == []


def test_a_curator_names_the_respondent(pairing: PairingService, registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    pairing.hold_meeting(curator(SCHOOL_A), pair_id, meeting("intro"))
    refused("RESPONDENT_REQUIRED", pairing.submit_feedback, curator(SCHOOL_A), pair_id,
            SubmitFeedback(meeting_number=1, satisfaction=7))
    assert pairing.submit_feedback(curator(SCHOOL_A), pair_id, SubmitFeedback(
        meeting_number=1, satisfaction=7, respondent_id=mentor)) == "mentor"


def test_withdrawn_consent_dissolves_the_pair_and_leaves_the_pool(pairing: PairingService,
                                                                  registry: FakeRegistry) -> None:
    mentor, stays, leaves = registry.mentor(SCHOOL_A, capacity=2), *(
        registry.mentee(SCHOOL_A) for _ in range(2))
    pair_id = form(pairing, SCHOOL_A, mentor, stays, leaves)
    registry.withdraw(leaves, SCHOOL_A)
    assert pairing.process_consent_withdrawals() == 1
    assert pairing.process_consent_withdrawals() == 0  # the notice is worked off once
    pair = pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
    assert (pair["status"], pair["returned_mentee_ids"]) == ("dissolved", [str(stays)])
    refused("NO_CONSENT", form, pairing, SCHOOL_A, mentor, leaves)


def test_dissolving_returns_the_mentees_to_the_pool(pairing: PairingService,
                                                    registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = form(pairing, SCHOOL_A, mentor, mentee)
    assert pairing.dissolve(curator(SCHOOL_A), pair_id, DissolvePair(reason="переезд")) == [mentee]
    assert form(pairing, SCHOOL_A, mentor, mentee) != pair_id


def test_reminders_name_pairs_without_meetings(pairing: PairingService, registry: FakeRegistry) -> None:
    pair_id = pairing.form_pair(curator(SCHOOL_A), FormPair(
        form=FORM, mentor_id=registry.mentor(SCHOOL_A), mentee_ids=[registry.mentee(SCHOOL_A)],
        formed_on=TODAY - timedelta(days=40)))
    reminders = pairing.reminders(curator(SCHOOL_A).actor)
    assert [(r["id"], r["code"], r["idle_days"]) for r in reminders] == [(str(pair_id), "NO_MEETINGS", 40)]
    assert pairing.reminders(curator(SCHOOL_B).actor) == []


def test_pairs_for_a_document_are_scoped_like_reading_a_pair(pairing: PairingService,
                                                             registry: FakeRegistry) -> None:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    ours = form(pairing, SCHOOL_A, mentor, mentee)
    theirs = form(pairing, SCHOOL_B, registry.mentor(SCHOOL_B), registry.mentee(SCHOOL_B))
    unknown = uuid4()
    answer = pairing.pairs_for_document(curator(SCHOOL_A).actor, [str(ours), str(theirs), str(unknown)])
    assert list(answer["pairs"]) == [str(ours)]
    assert answer["pairs"][str(ours)]["mentee_ids"] == [str(mentee)]
    assert answer["missing"] == [str(theirs), str(unknown)]
    assert list(pairing.pairs_for_document(participant(mentor), [str(ours)])["pairs"]) == [str(ours)]
    refused("INVALID_REQUEST", pairing.pairs_for_document, curator(SCHOOL_A).actor, "not a list")
    refused("INVALID_REQUEST", pairing.pairs_for_document, curator(SCHOOL_A).actor, ["x"])


def test_a_pair_cannot_be_formed_in_the_future(pairing: PairingService, registry: FakeRegistry) -> None:
    refused("FORMED_IN_FUTURE", pairing.form_pair, curator(SCHOOL_A), FormPair(
        form=FORM, mentor_id=registry.mentor(SCHOOL_A), mentee_ids=[registry.mentee(SCHOOL_A)],
        formed_on=date(2030, 1, 1)))


def test_suggestions_respect_capacity_and_explain_each_pair(pairing: PairingService,
                                                            registry: FakeRegistry) -> None:
    mentor = registry.mentor(SCHOOL_A, capacity=1, competencies=("математика",))
    fits, other = registry.mentee(SCHOOL_A, requests=("математика",)), registry.mentee(
        SCHOOL_A, requests=("физика",))
    municipal = Actor(user="municipal", role=Role.MUNICIPAL, scope=MUNICIPALITY)
    result = pairing.suggestions(municipal, Scope(municipality_id=registry.ids[MUNICIPALITY], form=FORM))
    [group] = result["groups"]
    assert (group["mentor_id"], group["mentee_ids"]) == (str(mentor), [str(fits)])
    assert "REQUESTS_MATCH" in {c["code"] for c in group["assignments"][0]["criteria"]}
    assert [u["mentee_id"] for u in result["unmatched"]] == [str(other)]
    refused("FORBIDDEN", pairing.suggestions, curator(SCHOOL_A).actor,
            Scope(municipality_id=registry.ids[MUNICIPALITY], form=FORM))
