"""A pair with another organisation's mentor is a proposal that organisation answers: the rules
and rights of the service layer, on an in-memory store with a fake registry."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from services.pairing.application import PairingService
from services.pairing.commands import (
    AnswerProposal,
    ConfirmSuggestions,
    DissolvePair,
    FormPair,
    GroupChoice,
    HoldMeeting,
)
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.pairing.conftest import (
    MUNICIPALITY,
    REGION,
    SCHOOL_A,
    SCHOOL_B,
    TODAY,
    FakeRegistry,
    curator,
    participant,
)

FORM = "teacher-student"
SCHOOL_C = OrgPath(region=REGION, municipality="m", organisation="school-c")


@pytest.fixture
def world(pairing: PairingService, registry: FakeRegistry) -> FakeRegistry:
    registry.organisation(SCHOOL_C)
    return registry


def propose(pairing: PairingService, school: OrgPath, mentor: UUID, *mentees: UUID) -> UUID:
    return pairing.form_pair(curator(school), FormPair(form=FORM, mentor_id=mentor,
                                                       mentee_ids=list(mentees)))


def refused(code: str, status: int, call, *args) -> DomainError:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        call(*args)
    assert (info.value.code, info.value.status) == (code, status), info.value
    return info.value


def load(pairing: PairingService, world: FakeRegistry, school: OrgPath) -> int:
    return pairing.pool(curator(school).actor, world.ids[school])["mentors"][0]["load"]


def listed(pairing: PairingService, school: OrgPath) -> list[tuple[str, str]]:
    return [(p["id"], p["status"]) for p in pairing.list_pairs(curator(school).actor)]


def test_a_pair_with_another_schools_mentor_is_a_proposal_that_takes_nothing(
        pairing: PairingService, world: FakeRegistry) -> None:
    mentor, mentee = world.mentor(SCHOOL_B), world.mentee(SCHOOL_A)
    answer = pairing.form_pair_answer(curator(SCHOOL_A), FormPair(
        form=FORM, mentor_id=mentor, mentee_ids=[mentee]))
    pair_id = UUID(answer["id"])
    assert answer["status"] == "proposed"
    assert load(pairing, world, SCHOOL_B) == 0  # the mentor's place is not taken
    refused("PAIR_NOT_CONFIRMED", 409, pairing.hold_meeting, curator(SCHOOL_A), pair_id,
            HoldMeeting(kind="intro", date=TODAY, duration_minutes=45))
    # The proposer sees it waiting; the mentor's school has it to answer.
    assert listed(pairing, SCHOOL_A) == [(str(pair_id), "proposed")]
    incoming = pairing.proposals(curator(SCHOOL_B).actor)["incoming"]
    assert [p["id"] for p in incoming] == [str(pair_id)]
    assert incoming[0]["organisation_name"] == "school-a"
    assert pairing.proposals(curator(SCHOOL_A).actor)["outgoing"][0]["status"] == "proposed"
    # The mentee waits for the answer: nobody pairs them elsewhere meanwhile.
    refused("MENTEE_ALREADY_PAIRED", 409, propose, pairing, SCHOOL_A, world.mentor(SCHOOL_A), mentee)


def test_the_mentors_school_confirms_then_both_see_it_and_either_ends_it(
        pairing: PairingService, world: FakeRegistry) -> None:
    mentor, mentee = world.mentor(SCHOOL_B), world.mentee(SCHOOL_A)
    pair_id = propose(pairing, SCHOOL_A, mentor, mentee)
    pairing.confirm_proposal(curator(SCHOOL_B), pair_id)
    assert load(pairing, world, SCHOOL_B) == 1
    for school in (SCHOOL_A, SCHOOL_B):
        assert listed(pairing, school) == [(str(pair_id), "active")]
        card = pairing.get_pair(curator(school).actor, pair_id)
        assert (card["organisation_name"], card["mentor_organisation_name"]) == ("school-a", "school-b")
        assert card["cross_organisation"] is True
    assert [p["id"] for p in pairing.list_pairs(
        curator(SCHOOL_B).actor, mentor_organisation_id=world.ids[SCHOOL_B])] == [str(pair_id)]
    # Filed at school A: school B's order of its own pairs does not list it.
    assert pairing.list_pairs(curator(SCHOOL_B).actor, organisation_id=world.ids[SCHOOL_B]) == []
    assert pairing.proposals(curator(SCHOOL_B).actor)["incoming"] == []
    # The mentee's school keeps the meetings; the mentor's school only sees them.
    assert pairing.hold_meeting(curator(SCHOOL_A), pair_id, HoldMeeting(
        kind="intro", date=TODAY, duration_minutes=45)) == 1
    refused("NOT_A_PROPOSAL", 409, pairing.confirm_proposal, curator(SCHOOL_B), pair_id)
    pairing.dissolve(curator(SCHOOL_B), pair_id, DissolvePair(reason="наставник уходит в отпуск"))
    assert listed(pairing, SCHOOL_A) == [(str(pair_id), "dissolved")]
    assert load(pairing, world, SCHOOL_B) == 0


def test_the_proposing_school_may_end_a_confirmed_pair_too(pairing: PairingService,
                                                           world: FakeRegistry) -> None:
    pair_id = propose(pairing, SCHOOL_A, world.mentor(SCHOOL_B), world.mentee(SCHOOL_A))
    pairing.confirm_proposal(curator(SCHOOL_B), pair_id)
    pairing.dissolve(curator(SCHOOL_A), pair_id, DissolvePair(reason="ученик перевёлся"))
    assert listed(pairing, SCHOOL_B) == [(str(pair_id), "dissolved")]


def test_a_declined_proposal_shows_its_reason_to_the_proposer(pairing: PairingService,
                                                              world: FakeRegistry) -> None:
    mentor, mentee = world.mentor(SCHOOL_B), world.mentee(SCHOOL_A)
    pair_id = propose(pairing, SCHOOL_A, mentor, mentee)
    pairing.decline_proposal(curator(SCHOOL_B), pair_id,
                             AnswerProposal(reason="Наставник занят до января"))
    [mine] = pairing.proposals(curator(SCHOOL_A).actor)["outgoing"]
    assert (mine["id"], mine["status"], mine["decline_reason"]) == (
        str(pair_id), "declined", "Наставник занят до января")
    assert pairing.get_pair(curator(SCHOOL_A).actor, pair_id)["decline_reason"] == \
        "Наставник занят до января"
    refused("NOT_A_PROPOSAL", 409, pairing.confirm_proposal, curator(SCHOOL_B), pair_id)
    # The mentee is free again; a decline without a reason is accepted too.
    again = propose(pairing, SCHOOL_A, mentor, mentee)
    pairing.decline_proposal(curator(SCHOOL_B), again, AnswerProposal())
    assert pairing.get_pair(curator(SCHOOL_A).actor, again)["decline_reason"] is None


def test_only_the_mentors_organisation_answers(pairing: PairingService, world: FakeRegistry) -> None:
    mentor, mentee = world.mentor(SCHOOL_B), world.mentee(SCHOOL_A)
    pair_id = propose(pairing, SCHOOL_A, mentor, mentee)
    decline = AnswerProposal(reason="нет")
    # The proposer sees it but may not answer it.
    refused("FORBIDDEN", 403, pairing.confirm_proposal, curator(SCHOOL_A), pair_id)
    refused("FORBIDDEN", 403, pairing.decline_proposal, curator(SCHOOL_A), pair_id, decline)
    auditor = CommandContext(Actor(user="auditor-b", role=Role.AUDITOR, scope=SCHOOL_B))
    refused("FORBIDDEN", 403, pairing.confirm_proposal, auditor, pair_id)
    # A third school and a participant: as if there were no such pair.
    for ctx in (curator(SCHOOL_C), CommandContext(participant(mentor))):
        refused("PAIR_NOT_FOUND", 404, pairing.confirm_proposal, ctx, pair_id)
        refused("PAIR_NOT_FOUND", 404, pairing.decline_proposal, ctx, pair_id, decline)
    assert pairing.proposals(curator(SCHOOL_C).actor) == {"incoming": [], "outgoing": []}


def test_a_third_school_neither_sees_nor_ends_a_confirmed_pair(pairing: PairingService,
                                                               world: FakeRegistry) -> None:
    pair_id = propose(pairing, SCHOOL_A, world.mentor(SCHOOL_B), world.mentee(SCHOOL_A))
    pairing.confirm_proposal(curator(SCHOOL_B), pair_id)
    third = curator(SCHOOL_C)
    refused("PAIR_NOT_FOUND", 404, pairing.get_pair, third.actor, pair_id)
    refused("PAIR_NOT_FOUND", 404, pairing.dissolve, third, pair_id, DissolvePair(reason="чужая"))
    refused("PAIR_NOT_FOUND", 404, pairing.hold_meeting, third, pair_id,
            HoldMeeting(kind="intro", date=TODAY, duration_minutes=45))
    assert pairing.list_pairs(third.actor) == []
    # The mentor's school sees the pair but keeps none of its meetings.
    refused("PAIR_NOT_FOUND", 404, pairing.hold_meeting, curator(SCHOOL_B), pair_id,
            HoldMeeting(kind="intro", date=TODAY, duration_minutes=45))


def test_places_are_checked_when_the_proposal_is_confirmed(pairing: PairingService,
                                                           world: FakeRegistry) -> None:
    mentor = world.mentor(SCHOOL_B, capacity=1)
    first = propose(pairing, SCHOOL_A, mentor, world.mentee(SCHOOL_A))
    second = propose(pairing, SCHOOL_C, mentor, world.mentee(SCHOOL_C))
    pairing.confirm_proposal(curator(SCHOOL_B), second)
    refused("NO_CAPACITY", 409, pairing.confirm_proposal, curator(SCHOOL_B), first)
    assert listed(pairing, SCHOOL_A) == [(str(first), "proposed")]


def test_withdrawn_consent_declines_a_waiting_proposal(pairing: PairingService,
                                                       world: FakeRegistry) -> None:
    mentee = world.mentee(SCHOOL_A)
    pair_id = propose(pairing, SCHOOL_A, world.mentor(SCHOOL_B), mentee)
    world.withdraw(mentee, SCHOOL_A)
    assert pairing.process_consent_withdrawals() == 1
    assert listed(pairing, SCHOOL_A) == [(str(pair_id), "declined")]
    refused("NOT_A_PROPOSAL", 409, pairing.confirm_proposal, curator(SCHOOL_B), pair_id)


def test_a_confirmed_pair_keeps_the_date_of_the_order_that_formed_it(pairing: PairingService,
                                                                    world: FakeRegistry) -> None:
    ordered = TODAY - timedelta(days=30)
    pair_id = pairing.form_pair(curator(SCHOOL_A), FormPair(
        form=FORM, mentor_id=world.mentor(SCHOOL_B), mentee_ids=[world.mentee(SCHOOL_A)],
        formed_on=ordered))
    pairing.confirm_proposal(curator(SCHOOL_B), pair_id)
    assert pairing.get_pair(curator(SCHOOL_A).actor, pair_id)["formed_on"] == ordered.isoformat()
    refused("MEETING_BEFORE_PAIR", 422, pairing.hold_meeting, curator(SCHOOL_A), pair_id,
            HoldMeeting(kind="intro", date=ordered - timedelta(days=1), duration_minutes=45))
    assert pairing.hold_meeting(curator(SCHOOL_A), pair_id, HoldMeeting(
        kind="intro", date=ordered + timedelta(days=1), duration_minutes=45)) == 1


def test_an_official_above_both_schools_forms_the_pair_directly(pairing: PairingService,
                                                                world: FakeRegistry) -> None:
    municipal = CommandContext(Actor(user="municipal", role=Role.MUNICIPAL, scope=MUNICIPALITY))
    pair_id = pairing.form_pair(municipal, FormPair(
        form=FORM, mentor_id=world.mentor(SCHOOL_B), mentee_ids=[world.mentee(SCHOOL_A)]))
    assert listed(pairing, SCHOOL_A) == [(str(pair_id), "active")]
    assert listed(pairing, SCHOOL_B) == [(str(pair_id), "active")]  # both sides see it


def test_a_same_school_pair_is_formed_at_once(pairing: PairingService, world: FakeRegistry) -> None:
    answer = pairing.form_pair_answer(curator(SCHOOL_A), FormPair(
        form=FORM, mentor_id=world.mentor(SCHOOL_A), mentee_ids=[world.mentee(SCHOOL_A)]))
    assert answer["status"] == "active"
    assert pairing.proposals(curator(SCHOOL_A).actor) == {"incoming": [], "outgoing": []}
    # There is nothing to answer; another school's curator does not learn the pair exists.
    pair_id = UUID(answer["id"])
    refused("NOT_A_PROPOSAL", 409, pairing.confirm_proposal, curator(SCHOOL_A), pair_id)
    refused("PAIR_NOT_FOUND", 404, pairing.confirm_proposal, curator(SCHOOL_B), pair_id)


def test_confirmed_suggestions_with_another_schools_mentor_become_proposals(
        pairing: PairingService, world: FakeRegistry) -> None:
    programme = uuid4()
    world.emit("ProgrammeLaunched", programme, SCHOOL_A, organisation_id=world.ids[SCHOOL_A],
               form=FORM, school_year="2025-2026")
    ours, theirs = world.mentor(SCHOOL_A), world.mentor(SCHOOL_B)
    mentees = [world.mentee(SCHOOL_A), world.mentee(SCHOOL_A)]
    answer = pairing.confirm_answer(curator(SCHOOL_A), ConfirmSuggestions(
        programme_id=programme, order_ref="№ 12-о",
        groups=[GroupChoice(mentor_id=ours, mentee_ids=[mentees[0]]),
                GroupChoice(mentor_id=theirs, mentee_ids=[mentees[1]])]))
    assert len(answer["pair_ids"]) == 2
    [proposed] = answer["proposed_ids"]
    assert dict(listed(pairing, SCHOOL_A))[proposed] == "proposed"
    assert load(pairing, world, SCHOOL_B) == 0
