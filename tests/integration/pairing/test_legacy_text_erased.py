"""Events stored before free text was sealed carry a goal, feedback or a curator's reason in the
clear: a member's withdrawal of consent erases them from the event store itself, in every pair
the person was in, and a service started after earlier withdrawals erases theirs too (the
pairing's real event store: SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from services.pairing.application import PairingService
from services.pairing.commands import FormPair
from services.pairing.config import PairingConfig
from services.pairing.domain import Pair
from services.pairing.vault import TEXT_REMOVED
from shared.settings import Settings
from tests.unit.pairing.conftest import MUNICIPALITY, SCHOOL_A, TODAY, FakeRegistry, curator
from tests.unit.pairing.conftest import registry as registry  # the same fake, over this store

GOAL = "Научить Зиновия Карпенко решать олимпиадные задачи"
WENT_WELL = "Карпенко сам разобрал задачу"
TO_CHANGE = "Больше практики для Зиновия"
REASON = "Карпенко переводится в другую школу"
OTHER_GOAL = "Цель другой пары, её участники согласия не отзывали"


@pytest.fixture
def pairing(settings: Settings) -> Iterator[PairingService]:
    settings.region = MUNICIPALITY.region
    service = PairingService(settings, lambda: TODAY, PairingConfig())
    yield service
    service.close()


def old_pair(pairing: PairingService, registry: FakeRegistry, mentee: UUID, goal: str,
             reason: str | None = None, feedback: tuple[str, str] = (WENT_WELL, TO_CHANGE)) -> UUID:
    """A pair whose texts were written the way the release before sealing wrote them."""
    ctx = curator(SCHOOL_A)
    pair_id = pairing.form_pair(ctx, FormPair(form="teacher-student", mentor_id=registry.mentor(SCHOOL_A),
                                              mentee_ids=[mentee]))
    pair: Pair = pairing.events.repository.get(pair_id)
    meta = ctx.meta(SCHOOL_A)
    pair._goal_set(goal_id=uuid4(), title=goal, due=None, status="planned", meta=meta)
    pair._meeting_held(kind="intro", date=TODAY.isoformat(), duration_minutes=45, format="in_person",
                       number=1, meta=meta)
    pair._feedback_submitted(meeting_number=1, side="mentee", respondent_id=mentee, satisfaction=8,
                             went_well=feedback[0], to_change=feedback[1], meta=meta)
    if reason is not None:
        pair._dissolved(reason=reason, returned_mentee_ids=[mentee], meta=meta)
    pairing._save(pair)
    return pair_id


def stored(pairing: PairingService) -> bytes:
    return b"".join(n.state for n in pairing.events.notifications_after(0, 10_000))


def envelopes(pairing: PairingService) -> list[bytes]:
    return [pairing.events.to_envelope(n).model_dump_json().encode()
            for n in pairing.events.notifications_after(0, 10_000)]


def on_disk(settings: Settings) -> bytes:
    """The SQLite event store's files as they lie on disk (empty on PostgreSQL)."""
    folder = settings.data_dir / "pairing"
    return b"".join(p.read_bytes() for p in folder.glob("events.sqlite*"))


def found(data: bytes, *texts: str) -> list[str]:
    return [t for t in texts if t.encode() in data or json.dumps(t).encode() in data]


def test_withdrawal_erases_clear_text_of_every_pair_the_person_was_in(
        pairing: PairingService, registry: FakeRegistry, settings: Settings) -> None:
    mentee = registry.mentee(SCHOOL_A)
    ended = old_pair(pairing, registry, mentee, GOAL, reason=REASON)  # she returned to the pool
    active = old_pair(pairing, registry, mentee, GOAL)
    other = old_pair(pairing, registry, registry.mentee(SCHOOL_A), OTHER_GOAL,
                     feedback=("Отзыв другой пары", ""))
    # Before the withdrawal the old texts read as they were written.
    assert pairing.get_pair(curator(SCHOOL_A).actor, active)["goals"][0]["title"] == GOAL
    published = envelopes(pairing)

    registry.withdraw(mentee, SCHOOL_A)
    assert pairing.process_consent_withdrawals() == 1

    assert found(stored(pairing), GOAL, WENT_WELL, TO_CHANGE, REASON) == []
    assert found(on_disk(settings), GOAL, WENT_WELL, TO_CHANGE, REASON) == []
    for pair_id in (active, ended):
        pair = pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
        assert [g["title"] for g in pair["goals"]] == [TEXT_REMOVED]
        answers = pairing.feedback(curator(SCHOOL_A).actor, pair_id, 1)
        assert [(a["went_well"], a["to_change"], a["satisfaction"]) for a in answers] == [
            (TEXT_REMOVED, TEXT_REMOVED, 8)]
    assert pairing.get_pair(curator(SCHOOL_A).actor, ended)["close_reason"] == TEXT_REMOVED
    # What was published of those events (and the audit log compares) is the same: the text
    # never was part of the public payload, ids and positions stay.
    assert envelopes(pairing)[:len(published)] == published
    # Nobody else's text is touched.
    assert pairing.get_pair(curator(SCHOOL_A).actor, other)["goals"][0]["title"] == OTHER_GOAL


def test_a_service_started_after_earlier_withdrawals_erases_their_clear_text(
        pairing: PairingService, registry: FakeRegistry, settings: Settings) -> None:
    mentee = registry.mentee(SCHOOL_A)
    pair_id = old_pair(pairing, registry, mentee, GOAL)
    # Withdrawn under the release that only destroyed keys: the clear text stayed stored.
    pairing.vault.shred(mentee)
    assert found(stored(pairing), GOAL) == [GOAL]
    pairing.close()

    restarted = PairingService(settings, lambda: TODAY, PairingConfig())
    try:
        assert found(stored(restarted), GOAL, WENT_WELL, TO_CHANGE) == []
        assert found(on_disk(settings), GOAL, WENT_WELL, TO_CHANGE) == []
        assert restarted.get_pair(curator(SCHOOL_A).actor, pair_id)["goals"][0]["title"] == TEXT_REMOVED
    finally:
        restarted.close()
