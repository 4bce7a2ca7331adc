"""The pair (or group) of mentorship as an event-sourced aggregate. No I/O here.

A pair lives through the methodology's stages: it is formed (``PairFormed``), gets an individual
development plan (``PlanGoalSet``), holds meetings in a fixed order — знакомство, пробная,
встреча-планирование, regular meetings, итоговая (``MeetingHeld``) — collects feedback from both
sides after each meeting (``FeedbackSubmitted``), and ends either completed after the final
meeting (``PairCompleted``) or dissolved early (``PairDissolved``).

A pair whose mentor belongs to another organisation than the pair (a mentor from another school
or a partner) starts as a **proposal** (``PairProposed``): the mentor's organisation confirms it
(``PairProposalConfirmed``, from then on it is an active pair) or declines it with an optional
reason (``PairProposalDeclined``). A proposal takes no place of the mentor and holds no meetings.

Free text (a goal's wording, feedback, a reason to dissolve) may name the members, so the
aggregate never holds it in the clear: the service passes a ``seal`` (``vault.PairText.seal``)
and only the ciphertext is recorded, in ``sealed`` fields that the public payload models in
``shared.events`` do not list, so not even the ciphertext reaches the bus. Events stored before
sealing existed still carry their text in ``title``/``went_well``/``to_change``/``reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event

from shared.errors import DomainError, conflict, not_found
from shared.store import EventSourcedAggregate

MeetingKind = Literal["intro", "trial", "planning", "regular", "final"]
MeetingFormat = Literal["in_person", "online"]
Side = Literal["mentor", "mentee"]
GoalStatus = Literal["planned", "in_progress", "done", "dropped"]
PairStatus = Literal["proposed", "active", "completed", "dissolved", "declined"]

KIND_TITLES: dict[str, str] = {
    "intro": "встреча-знакомство",
    "trial": "пробная встреча",
    "planning": "встреча-планирование",
    "regular": "регулярная встреча",
    "final": "итоговая встреча",
}
#: What may follow each meeting kind (None: no meeting yet). Regular meetings may repeat or be
#: skipped; nothing follows the final meeting.
NEXT_KINDS: dict[str | None, tuple[str, ...]] = {
    None: ("intro",),
    "intro": ("trial",),
    "trial": ("planning",),
    "planning": ("regular", "final"),
    "regular": ("regular", "final"),
    "final": (),
}
MIN_DURATION, MAX_DURATION = 5, 600
MIN_SATISFACTION, MAX_SATISFACTION = 1, 10
#: The one reason the system itself gives (no person named): stored as it is.
CONSENT_REASON = "Участник отозвал согласие на обработку персональных данных"
#: Free text in, ciphertext out (the pair's members' key; raises once a member withdrew).
Seal = Callable[[dict[str, Any]], str]


def pair_closed(status: str) -> DomainError:
    if status == "proposed":
        return conflict("PAIR_NOT_CONFIRMED", "Пара (группа) ещё не подтверждена организацией "
                        "наставника: встречи, цели и отзывы появятся после подтверждения")
    word = {"completed": "завершена", "declined": "отклонена организацией наставника"}.get(
        status, "расформирована")
    return conflict("PAIR_CLOSED", f"Пара (группа) уже {word}: изменения не принимаются")


SIDE_NAMES: dict[str, str] = {"mentor": "наставника", "mentee": "наставляемого"}


def feedback_missing_error(meeting_number: int, sides: Sequence[str]) -> DomainError:
    who = " и ".join(SIDE_NAMES[s] for s in sides)
    return conflict("FEEDBACK_MISSING",
                    f"Нет обратной связи по встрече № {meeting_number} от {who}: внесите её "
                    f"или укажите причину, по которой её нет")


def not_a_proposal(status: str) -> DomainError:
    return conflict("NOT_A_PROPOSAL", "Предложение уже рассмотрено: пара подтверждена, "
                    "отклонена или завершена" if status != "active" else
                    "Пара уже подтверждена: предложение рассмотрено")


def check_new_pair(mentor_id: UUID, mentee_ids: Sequence[UUID]) -> None:
    if not mentee_ids:
        raise DomainError("MENTEES_REQUIRED", "Укажите хотя бы одного наставляемого", 422)
    if len(set(mentee_ids)) != len(mentee_ids):
        raise DomainError("DUPLICATE_MENTEE", "Один наставляемый указан дважды", 422)
    if mentor_id in mentee_ids:
        raise DomainError("SAME_PERSON", "Наставник и наставляемый — одно и то же лицо", 422)


class Pair(EventSourcedAggregate):
    """One mentor with one mentee (a pair) or several (a group)."""

    @event("PairFormed")
    def __init__(self, programme_id: UUID | None, organisation_id: UUID, form: str,
                 mentor_id: UUID, mentee_ids: list[UUID], order_ref: str | None, suggested: bool,
                 score: float | None, formed_on: str, meta: dict[str, Any]) -> None:
        self._start(programme_id, organisation_id, form, mentor_id, mentee_ids, order_ref,
                    suggested, score, formed_on, "active")

    @classmethod
    def propose(cls, *, programme_id: UUID | None, organisation_id: UUID, form: str,
                mentor_id: UUID, mentor_organisation_id: UUID, mentee_ids: list[UUID],
                order_ref: str | None, suggested: bool, score: float | None, formed_on: str,
                meta: dict[str, Any]) -> Pair:
        """A pair with another organisation's mentor: nothing is bound until that organisation
        confirms (``confirm``)."""
        return cls._create(cls.PairProposed, programme_id=programme_id,
                           organisation_id=organisation_id, form=form, mentor_id=mentor_id,
                           mentor_organisation_id=mentor_organisation_id,
                           mentee_ids=list(mentee_ids), order_ref=order_ref, suggested=suggested,
                           score=score, formed_on=formed_on, meta=meta)

    class PairProposed(EventSourcedAggregate.Created):
        programme_id: UUID | None
        organisation_id: UUID
        form: str
        mentor_id: UUID
        mentor_organisation_id: UUID
        mentee_ids: list[UUID]
        order_ref: str | None
        suggested: bool
        score: float | None
        formed_on: str
        meta: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate._start(self.programme_id, self.organisation_id, self.form, self.mentor_id,
                             self.mentee_ids, self.order_ref, self.suggested, self.score,
                             self.formed_on, "proposed")
            aggregate.mentor_organisation_id = self.mentor_organisation_id

    def _start(self, programme_id: UUID | None, organisation_id: UUID, form: str,
               mentor_id: UUID, mentee_ids: list[UUID], order_ref: str | None, suggested: bool,
               score: float | None, formed_on: str, status: PairStatus) -> None:
        self.programme_id = programme_id
        self.organisation_id = organisation_id
        self.form = form
        self.mentor_id = mentor_id
        #: Set for a pair proposed to another organisation's mentor (None: the pair's own).
        self.mentor_organisation_id: UUID | None = None
        self.mentee_ids = list(mentee_ids)
        self.order_ref = order_ref
        self.suggested = suggested
        self.score = score
        self.formed_on = formed_on
        self.status: PairStatus = status
        self.meetings: list[dict[str, Any]] = []
        self.goals: dict[str, dict[str, Any]] = {}
        #: meeting number -> respondent id -> {side, satisfaction, sealed (went_well, to_change)}
        self.feedback: dict[int, dict[str, dict[str, Any]]] = {}
        self.close_reason: str | None = None  # the system's own reason, or an old event's
        self.close_reason_sealed: str | None = None
        self.returned_mentee_ids: list[UUID] = []
        self.decline_reason: str | None = None  # the system's own reason
        self.decline_reason_sealed: str | None = None

    # --- queries ----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def proposed(self) -> bool:
        return self.status == "proposed"

    @property
    def last_kind(self) -> str | None:
        return self.meetings[-1]["kind"] if self.meetings else None

    @property
    def last_activity(self) -> str:
        """ISO date of the last meeting, or of the formation when none was held yet."""
        return self.meetings[-1]["date"] if self.meetings else self.formed_on

    def side_of(self, person_id: UUID) -> Side | None:
        if person_id == self.mentor_id:
            return "mentor"
        if person_id in self.mentee_ids:
            return "mentee"
        return None

    def feedback_visible_to(self, meeting_number: int,
                            viewer_id: UUID | None) -> list[dict[str, Any]]:
        """The meeting's feedback as one viewer may see it.

        ``viewer_id`` None is a curator (everything). A participant always sees their own answer
        and sees the other side's answers only once they have submitted their own.
        """
        answers = self.feedback.get(meeting_number, {})
        records = [{"respondent_id": rid, **record} for rid, record in answers.items()]
        if viewer_id is None:
            return records
        side = self.side_of(viewer_id)
        if side is None:
            return []
        own = [r for r in records if r["respondent_id"] == str(viewer_id)]
        if not own:
            return []
        return [r for r in records if r["respondent_id"] == str(viewer_id) or r["side"] != side]

    def _require_active(self) -> None:
        if not self.active:
            raise pair_closed(self.status)

    # --- development plan -------------------------------------------------------------------

    def set_goal(self, goal_id: UUID, title: str, due: date | None, status: GoalStatus,
                 meta: dict[str, Any], *, seal: Seal) -> None:
        self._require_active()
        if not title.strip():
            raise DomainError("GOAL_TITLE_REQUIRED", "Укажите формулировку цели", 422)
        self._goal_set(goal_id=goal_id, title=None, due=due.isoformat() if due else None,
                       status=status, meta=meta, sealed=seal({"title": title.strip()}))

    def mark_goal(self, goal_id: UUID, status: GoalStatus, meta: dict[str, Any]) -> None:
        """A goal's progress: its wording and due date stay as set (sealed as they were)."""
        self._require_active()
        goal = self.goals.get(str(goal_id))
        if goal is None:
            raise DomainError("GOAL_NOT_FOUND", "Цель плана развития не найдена", 404)
        self._goal_set(goal_id=goal_id, title=goal["title"], due=goal["due"], status=status,
                       meta=meta, sealed=goal["sealed"])

    @event("PlanGoalSet")
    def _goal_set(self, goal_id: UUID, title: str | None, due: str | None, status: str,
                  meta: dict[str, Any], sealed: str | None = None) -> None:
        self.goals[str(goal_id)] = {"goal_id": str(goal_id), "title": title, "sealed": sealed,
                                    "due": due, "status": status}

    # --- meetings ---------------------------------------------------------------------------

    def next_kinds(self) -> list[str]:
        """The kinds of meeting the methodology's order allows next (none after the final)."""
        return list(NEXT_KINDS[self.last_kind])

    def feedback_missing(self) -> list[Side]:
        """The sides (mentor, mentee) that have not answered about the last meeting: feedback
        after each meeting is mandatory (one answer of the mentees' side is enough for a
        group). Empty when no meeting was held or the last one's gap has a recorded reason."""
        if not self.meetings or self.meetings[-1].get("missing_feedback_sealed"):
            return []
        answered = {r["side"] for r in self.feedback.get(self.meetings[-1]["number"], {}).values()}
        return [side for side in ("mentor", "mentee") if side not in answered]

    def hold_meeting(self, kind: str, on: date, duration_minutes: int, format: MeetingFormat,  # noqa: A002
                     today: date, meta: dict[str, Any], *, missing_feedback_reason: str | None = None,
                     seal: Seal | None = None) -> int:
        """Record a meeting held on ``on``; refuses anything out of the methodology's order, and
        a meeting while a side's feedback on the previous one is missing, unless the curator
        gives the reason why (kept sealed with the previous meeting, shown on the pair)."""
        self._require_active()
        if on > today:
            raise DomainError("MEETING_IN_FUTURE",
                              f"Встреча не может быть отмечена проведённой заранее: "
                              f"{on:%d.%m.%Y} ещё не наступило", 422)
        if on.isoformat() < self.formed_on:
            raise DomainError("MEETING_BEFORE_PAIR",
                              "Дата встречи раньше даты формирования пары", 422)
        if self.meetings and on.isoformat() < self.meetings[-1]["date"]:
            raise DomainError("MEETING_BEFORE_PREVIOUS",
                              "Дата встречи раньше даты предыдущей встречи", 422)
        allowed = self.next_kinds()
        if kind not in allowed:
            if not allowed:
                message = "Итоговая встреча уже проведена: новые встречи не назначаются"
            else:
                expected = " или ".join(f"«{KIND_TITLES[k]}»" for k in allowed)
                message = (f"Нарушен порядок встреч: сейчас может быть только {expected}, "
                           f"а не «{KIND_TITLES.get(kind, kind)}»")
            raise conflict("MEETING_OUT_OF_ORDER", message)
        if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
            raise DomainError("INVALID_DURATION",
                              f"Продолжительность встречи — от {MIN_DURATION} до "
                              f"{MAX_DURATION} минут", 422)
        missing = self.feedback_missing()
        reason = (missing_feedback_reason or "").strip()
        sealed = None
        if missing:
            if len(reason) < 3 or seal is None:
                raise feedback_missing_error(self.meetings[-1]["number"], missing)
            # The reason may name a member: only its ciphertext is recorded (``sealed`` is not
            # in the public payload of ``MeetingHeld``).
            sealed = seal({"reason": reason})
        number = len(self.meetings) + 1
        self._meeting_held(kind=kind, date=on.isoformat(), duration_minutes=duration_minutes,
                           format=format, number=number, meta=meta, sealed=sealed)
        return number

    @event("MeetingHeld")
    def _meeting_held(self, kind: str, date: str, duration_minutes: int, format: str,  # noqa: A002
                      number: int, meta: dict[str, Any], sealed: str | None = None) -> None:
        if sealed is not None and self.meetings:
            # The reason explains the gap in the previous meeting's feedback.
            self.meetings[-1]["missing_feedback_sealed"] = sealed
        self.meetings.append({"kind": kind, "date": date, "duration_minutes": duration_minutes,
                              "format": format, "number": number})

    # --- feedback ---------------------------------------------------------------------------

    def submit_feedback(self, meeting_number: int, respondent_id: UUID, satisfaction: int,
                        went_well: str, to_change: str, meta: dict[str, Any], *,
                        seal: Seal) -> Side:
        """Feedback is about a meeting that was held, so it is accepted after the pair closed.
        Its texts are sealed; an answer without text needs no key."""
        if not 1 <= meeting_number <= len(self.meetings):
            raise not_found(f"Встреча № {meeting_number}", "MEETING_NOT_FOUND")
        side = self.side_of(respondent_id)
        if side is None:
            raise DomainError("NOT_A_MEMBER", "Отвечающий не состоит в этой паре (группе)", 422)
        if not MIN_SATISFACTION <= satisfaction <= MAX_SATISFACTION:
            raise DomainError("INVALID_SATISFACTION",
                              "Удовлетворённость оценивается по шкале от 1 до 10", 422)
        if str(respondent_id) in self.feedback.get(meeting_number, {}):
            raise conflict("FEEDBACK_ALREADY_SUBMITTED",
                           f"Обратная связь по встрече № {meeting_number} уже дана")
        texts = {"went_well": went_well.strip(), "to_change": to_change.strip()}
        self._feedback_submitted(meeting_number=meeting_number, side=side,
                                 respondent_id=respondent_id, satisfaction=satisfaction,
                                 went_well="", to_change="", meta=meta,
                                 sealed=seal(texts) if any(texts.values()) else None)
        return side

    @event("FeedbackSubmitted")
    def _feedback_submitted(self, meeting_number: int, side: str, respondent_id: UUID,
                            satisfaction: int, went_well: str, to_change: str,
                            meta: dict[str, Any], sealed: str | None = None) -> None:
        self.feedback.setdefault(meeting_number, {})[str(respondent_id)] = {
            "side": side, "satisfaction": satisfaction, "went_well": went_well,
            "to_change": to_change, "sealed": sealed}

    # --- the end ----------------------------------------------------------------------------

    def complete(self, meta: dict[str, Any]) -> None:
        self._require_active()
        if self.last_kind != "final":
            raise conflict("FINAL_MEETING_REQUIRED",
                           "Завершить работу пары можно только после итоговой встречи")
        self._completed(meetings=len(self.meetings), meta=meta)

    @event("PairCompleted")
    def _completed(self, meetings: int, meta: dict[str, Any]) -> None:
        self.status = "completed"

    def dissolve(self, reason: str, meta: dict[str, Any], *, seal: Seal) -> list[UUID]:
        """End the pair early (a curator's reason, sealed); every mentee returns to the pool."""
        self._require_active()
        if len(reason.strip()) < 3:
            raise DomainError("REASON_REQUIRED", "Укажите причину расформирования", 422)
        returned = list(self.mentee_ids)
        self._dissolved(reason=None, returned_mentee_ids=returned, meta=meta,
                        sealed=seal({"reason": reason.strip()}))
        return returned

    def dissolve_on_withdrawal(self, meta: dict[str, Any],
                               withdrawn_ids: Iterable[UUID]) -> list[UUID]:
        """End the pair because members withdrew consent; the others return to the pool."""
        self._require_active()
        gone = set(withdrawn_ids)
        returned = [m for m in self.mentee_ids if m not in gone]
        self._dissolved(reason=CONSENT_REASON, returned_mentee_ids=returned, meta=meta)
        return returned

    @event("PairDissolved")
    def _dissolved(self, reason: str | None, returned_mentee_ids: list[UUID],
                   meta: dict[str, Any], sealed: str | None = None) -> None:
        self.status = "dissolved"
        self.close_reason = reason
        self.close_reason_sealed = sealed
        self.returned_mentee_ids = list(returned_mentee_ids)

    # --- a proposal to another organisation's mentor --------------------------------------

    def confirm(self, confirmed_on: date, meta: dict[str, Any]) -> None:
        """The mentor's organisation agrees: the pair is active from now on. It keeps the date
        the proposer gave (the order that formed it, recorded afterwards as for any pair);
        ``confirmed_on`` only bounds it, as a pair is never formed in the future."""
        if not self.proposed:
            raise not_a_proposal(self.status)
        self._proposal_confirmed(
            programme_id=self.programme_id, organisation_id=self.organisation_id,
            form=self.form, mentor_id=self.mentor_id,
            mentor_organisation_id=self.mentor_organisation_id, mentee_ids=list(self.mentee_ids),
            order_ref=self.order_ref, suggested=self.suggested, score=self.score,
            formed_on=min(self.formed_on, confirmed_on.isoformat()), meta=meta)

    @event("PairProposalConfirmed")
    def _proposal_confirmed(self, programme_id: UUID | None, organisation_id: UUID, form: str,
                            mentor_id: UUID, mentor_organisation_id: UUID | None,
                            mentee_ids: list[UUID], order_ref: str | None, suggested: bool,
                            score: float | None, formed_on: str, meta: dict[str, Any]) -> None:
        # The event repeats what the pair is (the fields of ``PairFormed``): a reader of the
        # bus counts the pair from this event alone, as if it had been formed now.
        self.status = "active"
        self.formed_on = formed_on

    def decline(self, reason: str, meta: dict[str, Any], *, seal: Seal | None = None) -> None:
        """The mentor's organisation refuses; the mentees return to the pool. A curator's reason
        is optional and sealed like all free text (``seal``); the system's own is kept plain."""
        if not self.proposed:
            raise not_a_proposal(self.status)
        reason = reason.strip()
        sealed = seal({"reason": reason}) if seal is not None and reason else None
        self._proposal_declined(reason=None if seal is not None else reason or None,
                                returned_mentee_ids=list(self.mentee_ids), meta=meta,
                                sealed=sealed)

    @event("PairProposalDeclined")
    def _proposal_declined(self, reason: str | None, returned_mentee_ids: list[UUID],
                           meta: dict[str, Any], sealed: str | None = None) -> None:
        self.status = "declined"
        self.decline_reason = reason or None
        self.decline_reason_sealed = sealed
        self.returned_mentee_ids = list(returned_mentee_ids)
