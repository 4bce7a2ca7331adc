"""Free text about a pair (goals, feedback, a curator's reason) is sealed with the members' keys
before it is stored, read back while consent stands, and gone for good once a member withdraws:
the service layer on an in-memory store and view database."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from services.pairing.application import PairingService
from services.pairing.commands import DissolvePair, FormPair, HoldMeeting, SetGoal, SubmitFeedback
from services.pairing.domain import CONSENT_REASON
from services.pairing.vault import TEXT_REMOVED, person_keys
from shared.errors import DomainError
from tests.unit.pairing.conftest import SCHOOL_A, TODAY, FakeRegistry, curator, participant

GOAL = "Подготовить Зиновия Карпенко к олимпиаде по астрономии"
WENT_WELL = "Карпенко сам разобрал задачу о затмениях"
TO_CHANGE = "Больше практики с телескопом"
REASON = "Карпенко переводится в гимназию Звёздного городка"


def stored_bytes(pairing: PairingService) -> bytes:
    """Everything the pairing's event store holds, as stored."""
    return b"".join(n.topic.encode() + n.state
                    for n in pairing.events.notifications_after(0, 10_000))


def forms_of(text: str) -> list[bytes]:
    """The text as UTF-8 and as JSON would escape it."""
    return [text.encode(), json.dumps(text).encode(), json.dumps(text).strip('"').encode()]


def pair_with_texts(pairing: PairingService, registry: FakeRegistry) -> tuple[UUID, UUID, UUID]:
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    ctx = curator(SCHOOL_A)
    pair_id = pairing.form_pair(ctx, FormPair(form="teacher-student", mentor_id=mentor,
                                              mentee_ids=[mentee]))
    pairing.set_goal(ctx, pair_id, SetGoal(title=GOAL, due=TODAY + timedelta(days=30)))
    pairing.hold_meeting(ctx, pair_id, HoldMeeting(kind="intro", date=TODAY, duration_minutes=45))
    pairing.submit_feedback(ctx, pair_id, SubmitFeedback(
        meeting_number=1, satisfaction=9, respondent_id=mentee, went_well=WENT_WELL,
        to_change=TO_CHANGE))
    return pair_id, mentor, mentee


def test_texts_are_read_back_but_stored_only_sealed(pairing: PairingService,
                                                    registry: FakeRegistry) -> None:
    pair_id, _, mentee = pair_with_texts(pairing, registry)
    pair = pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
    assert [g["title"] for g in pair["goals"]] == [GOAL]
    answers = pairing.feedback(participant(mentee), pair_id, 1)
    assert [(a["went_well"], a["to_change"]) for a in answers] == [(WENT_WELL, TO_CHANGE)]
    assert "sealed" not in answers[0] and "sealed" not in pair["goals"][0]

    stored = stored_bytes(pairing)
    assert b"PlanGoalSet" in stored and b"FeedbackSubmitted" in stored  # the scan reads events
    assert b'"sealed"' in stored
    for text in (GOAL, WENT_WELL, TO_CHANGE, "Карпенко"):
        assert [f for f in forms_of(text) if f in stored] == []


def test_withdrawn_consent_destroys_every_text_of_the_pair(pairing: PairingService,
                                                          registry: FakeRegistry) -> None:
    pair_id, mentor, mentee = pair_with_texts(pairing, registry)
    registry.withdraw(mentee, SCHOOL_A)
    assert pairing.process_consent_withdrawals() == 1

    pair = pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
    assert (pair["status"], pair["close_reason"]) == ("dissolved", CONSENT_REASON)
    assert [g["title"] for g in pair["goals"]] == [TEXT_REMOVED]
    answers = pairing.feedback(curator(SCHOOL_A).actor, pair_id, 1)
    assert [(a["went_well"], a["to_change"], a["satisfaction"]) for a in answers] == [
        (TEXT_REMOVED, TEXT_REMOVED, 9)]  # the figure stays, the words go
    with pairing.engine.connect() as conn:
        keys = {row.person_id: row.wrapped_key for row in conn.execute(sa.select(person_keys))}
    assert keys[mentee] is None and keys[mentor] is not None  # a tombstone, the mentor's key kept

    # A new text about the pair cannot be sealed; an answer without words is still taken.
    with pytest.raises(DomainError) as refused:
        pairing.submit_feedback(curator(SCHOOL_A), pair_id, SubmitFeedback(
            meeting_number=1, satisfaction=7, respondent_id=mentor, went_well="Хорошо"))
    assert (refused.value.code, refused.value.status) == ("CONSENT_WITHDRAWN", 409)
    assert pairing.submit_feedback(curator(SCHOOL_A), pair_id, SubmitFeedback(
        meeting_number=1, satisfaction=7, respondent_id=mentor)) == "mentor"


def test_a_curators_reason_is_sealed_and_goes_with_consent(pairing: PairingService,
                                                          registry: FakeRegistry) -> None:
    pair_id, _, mentee = pair_with_texts(pairing, registry)
    pairing.dissolve(curator(SCHOOL_A), pair_id, DissolvePair(reason=REASON))
    assert pairing.get_pair(curator(SCHOOL_A).actor, pair_id)["close_reason"] == REASON
    assert [f for f in forms_of(REASON) if f in stored_bytes(pairing)] == []

    registry.withdraw(mentee, SCHOOL_A)
    assert pairing.process_consent_withdrawals() == 0  # nothing active left to dissolve
    assert pairing.get_pair(curator(SCHOOL_A).actor, pair_id)["close_reason"] == TEXT_REMOVED


def test_no_new_key_is_made_for_someone_who_withdrew(pairing: PairingService) -> None:
    gone, other, pair_id = uuid4(), uuid4(), uuid4()
    pairing.vault.shred(gone)
    text = pairing.vault.text_of(pair_id, [gone, other], create=True)
    assert text.key is None and text.erased
    with pytest.raises(DomainError):
        text.seal({"title": "что-нибудь"})
    assert pairing.vault.text_of(pair_id, [other], create=True).key is not None


def test_a_sealed_text_opens_only_for_its_own_pair(pairing: PairingService) -> None:
    members = [uuid4(), uuid4()]
    first = pairing.vault.text_of(uuid4(), members, create=True)
    sealed = first.seal({"title": GOAL})
    assert first.open(sealed, "title") == GOAL
    second = pairing.vault.text_of(uuid4(), members, create=True)
    with pytest.raises(Exception):  # noqa: B017, PT011 — cryptography's InvalidTag
        second.open(sealed, "title")


def test_a_text_stored_before_sealing_is_hidden_once_a_member_withdrew(
        pairing: PairingService) -> None:
    members = [uuid4(), uuid4()]
    pair_id = uuid4()
    assert pairing.vault.text_of(pair_id, members).open(None, "title", "старая цель") == "старая цель"
    pairing.vault.shred(members[0])
    assert pairing.vault.text_of(pair_id, members).open(None, "title", "старая цель") == TEXT_REMOVED
    assert pairing.vault.text_of(pair_id, members).open(None, "went_well", "") == ""
