"""Who gets what: the notifications one event gives, addressed to audiences, never to people's
addresses (those stay in the registry and are asked for at send time).

An audience is a role at an exact organisation path (``role:curator:demo/m1/s1``: every curator
account of that school) or a participant (``person:<id>``). A notification's id is derived from
the event and the audience, so a redelivered event yields the same ids and changes nothing twice.

- ``ReportDue``: the level that reports (curators of a school, the municipality's officials, the
  region's); once overdue, also the level above it (the one the report goes to).
- ``PairFormed`` (and a confirmed proposal): the pair's mentor and mentees, invited to its work.
- ``MeetingHeld``: the pair's members, with the meeting as a calendar entry, asked for feedback.
- ``PairInactive`` and ``FeedbackMissing`` (found by ``sweep``): the curators of the pair's school.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from shared import periods
from shared.auth import OrgPath, Role
from shared.contracts import Envelope
from shared.events import FeedbackSubmitted, MeetingHeld, PairFormed, ReportDue, read_payload
from shared.titles import MEETING_KINDS, form_title

NOTIFICATION_NAMESPACE = UUID("3b0e8a64-2f51-5d0c-9e7a-6c1d4f8b2a90")
FORMATS = {"in_person": "очно", "online": "онлайн"}
LEVEL_ABOVE = {"organisation": Role.MUNICIPAL, "municipality": Role.REGIONAL}
LEVEL_ROLE = {"organisation": Role.CURATOR, "municipality": Role.MUNICIPAL, "region": Role.REGIONAL}
PAIR_FORMED = ("PairFormed", "PairProposalConfirmed")


def role_audience(role: Role, path: OrgPath | str) -> str:
    return f"role:{role.value}:{path}"


def person_audience(person_id: UUID | str) -> str:
    return f"person:{person_id}"


def parse_audience(audience: str) -> tuple[str, str, str]:
    """(``role`` | ``person``, role or person id, path or "")."""
    kind, _, rest = audience.partition(":")
    if kind == "person":
        return kind, rest, ""
    role, _, path = rest.partition(":")
    return kind, role, path


def audiences_of(role: Role, scope: OrgPath | str, user: str) -> list[str]:
    """The audiences a signed-in user reads: their role at their scope; a participant also
    their own person id."""
    found = [role_audience(role, scope)]
    if role is Role.PARTICIPANT:
        found.append(person_audience(user))
    return found


@dataclass(frozen=True)
class Notification:
    id: UUID
    audience: str
    kind: str
    title: str
    body: str
    path: str
    event_id: UUID
    #: For a meeting: what its calendar entry needs (ids and figures, never names).
    meeting: dict[str, Any] | None = field(default=None)
    #: The portal page where it is dealt with.
    link: str = ""


def notification_id(key: str, audience: str) -> UUID:
    return uuid5(NOTIFICATION_NAMESPACE, f"{key}|{audience}")


#: Where each kind is dealt with in the portal (``{pair}``: the pair's id).
LINKS = {"report_due": "/reports", "report_overdue": "/reports", "report_overdue_below": "/reports",
         "report_reminder": "/reports", "pair_formed": "/my", "meeting": "/my#pair-{pair}",
         "pair_inactive": "/pairs/{pair}", "feedback_missing": "/pairs/{pair}"}


def _make(key: UUID | str, event_id: UUID, audiences: list[str], kind: str, title: str,
          body: str, path: str, meeting: dict[str, Any] | None = None,
          pair: UUID | None = None) -> list[Notification]:
    link = LINKS[kind].format(pair=pair)
    return [Notification(notification_id(str(key), a), a, kind, title, body, path, event_id,
                         meeting, link) for a in dict.fromkeys(audiences)]


def ru_date(value: date | str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d.%m.%Y")


def _days(n: int) -> str:
    tail = n % 100
    if 11 <= tail <= 14:
        return f"{n} дней"
    return f"{n} " + {1: "день", 2: "дня", 3: "дня", 4: "дня"}.get(n % 10, "дней")


def report_due(envelope: Envelope, due: ReportDue,
               name_of: Callable[[str], str | None] = lambda _: None) -> list[Notification]:
    """``name_of``: an organisation's name by its path (organisations are no personal data)."""
    path = envelope.org
    level = due.level
    period = periods.label(due.period)
    deadline = ru_date(due.deadline)
    own = role_audience(LEVEL_ROLE[level], path)
    if not due.overdue:
        when = ("сегодня последний день срока" if due.days_left == 0
                else f"до срока осталось {_days(due.days_left)}")
        title = f"Срок сдачи отчёта — {deadline}"
        body = (f"Отчёт за {period} нужно сдать до {deadline}: {when}. "
                f"Отчёт готовится в разделе «Отчётность» портала.")
        return _make(envelope.event_id, envelope.event_id, [own], "report_due", title, body,
                     str(path))
    title = f"Отчёт просрочен — срок был {deadline}"
    body = (f"Отчёт за {period} не сдан: срок истёк {deadline} "
            f"(просрочка {_days(-due.days_left)}). Сдайте его в разделе «Отчётность».")
    found = _make(envelope.event_id, envelope.event_id, [own], "report_overdue", title, body,
                  str(path))
    above = LEVEL_ABOVE.get(level)
    if level == "organisation" and path.municipality is None:
        above = Role.REGIONAL  # a regional organisation reports to the region itself
    if above is not None:
        upper = (OrgPath(region=path.region, municipality=path.municipality)
                 if above is Role.MUNICIPAL else OrgPath(region=path.region))
        who = name_of(str(path)) or str(path.organisation or path.municipality)
        found += _make(envelope.event_id, envelope.event_id, [role_audience(above, upper)],
                       "report_overdue_below", f"Просрочен отчёт: {who}",
                       f"Отчёт за {period} от «{who}» не сдан: срок истёк {deadline}. "
                       f"Напомнить можно со страницы «Отчётность».", str(path))
    return found


def reminder(report_id: str, level: str, path: str, period: str, deadline: date,
             on: date, by: Role) -> list[Notification]:
    """The level above asks the late one to submit (once a day per report)."""
    key = f"remind:{report_id}:{on.isoformat()}"
    who = "Муниципалитет" if by is Role.MUNICIPAL else "Регион"
    return _make(key, uuid5(NOTIFICATION_NAMESPACE, key), [role_audience(LEVEL_ROLE[level], path)],
                 "report_reminder", f"Напоминание: отчёт за {periods.label(period)}",
                 f"{who} напоминает: отчёт за {periods.label(period)} не сдан, срок истёк "
                 f"{ru_date(deadline)}. Сдайте его в разделе «Отчётность».", path)


def pair_members(formed: PairFormed) -> list[str]:
    return [person_audience(formed.mentor_id), *(person_audience(m) for m in formed.mentee_ids)]


def members_of(envelope: Envelope) -> list[str]:
    """The audiences of a pair that ``PairFormed`` (or a confirmed proposal) formed."""
    formed = read_payload(envelope)
    assert isinstance(formed, PairFormed)
    return pair_members(formed)


def pair_formed(envelope: Envelope, formed: PairFormed) -> list[Notification]:
    return _make(envelope.event_id, envelope.event_id, pair_members(formed), "pair_formed",
                 "Вы приглашены в наставническую пару",
                 f"Куратор сформировал наставническую пару (форма «{form_title(formed.form)}»). "
                 f"Войдите в портал по приглашению куратора: там встречи, цели и отзывы.",
                 str(envelope.org))


def meeting_held(envelope: Envelope, held: MeetingHeld, members: list[str]) -> list[Notification]:
    kind = MEETING_KINDS.get(held.kind, held.kind)
    title = f"Встреча № {held.number} ({kind}) {ru_date(held.date)}"
    body = (f"Встреча № {held.number} ({kind}) проведена {ru_date(held.date)}, "
            f"{FORMATS.get(held.format, held.format)}, {held.duration_minutes} мин. "
            f"Оставьте, пожалуйста, отзыв о встрече в портале.")
    meeting = {"pair_id": str(envelope.aggregate_id), "number": held.number, "kind": held.kind,
               "date": held.date, "duration_minutes": held.duration_minutes,
               "format": held.format, "recorded_at": envelope.occurred_at.isoformat()}
    return _make(envelope.event_id, envelope.event_id, members, "meeting", title, body,
                 str(envelope.org), meeting, envelope.aggregate_id)


def pair_inactive(pair_id: UUID, path: str, last: date | None, days: int) -> list[Notification]:
    since = f"с {ru_date(last)}" if last else "с момента формирования"
    key = f"inactive:{pair_id}:{last or 'none'}"
    return _make(key, uuid5(NOTIFICATION_NAMESPACE, key), [role_audience(Role.CURATOR, path)],
                 "pair_inactive", "Пара без встреч",
                 f"В паре {str(pair_id)[:8]} нет встреч {since} — больше {_days(days)}. "
                 f"Проверьте, продолжается ли работа пары.", path, pair=pair_id)


def feedback_missing(pair_id: UUID, path: str, number: int, held_on: str,
                     sides: list[str]) -> list[Notification]:
    key = f"feedback:{pair_id}:{number}"
    who = " и ".join({"mentor": "наставника", "mentee": "наставляемого"}[s] for s in sides)
    return _make(key, uuid5(NOTIFICATION_NAMESPACE, key), [role_audience(Role.CURATOR, path)],
                 "feedback_missing", "Нет отзыва о встрече",
                 f"О встрече № {number} пары {str(pair_id)[:8]} ({ru_date(held_on)}) нет отзыва "
                 f"{who}.", path, pair=pair_id)


def from_event(envelope: Envelope, members: list[str],
               name_of: Callable[[str], str | None] = lambda _: None) -> list[Notification]:
    """The notifications an event gives; ``members``: the audiences of its pair, if any."""
    if envelope.type == "ReportDue":
        due = read_payload(envelope)
        assert isinstance(due, ReportDue)
        return report_due(envelope, due, name_of)
    if envelope.type in PAIR_FORMED:
        formed = read_payload(envelope)
        assert isinstance(formed, PairFormed)
        return pair_formed(envelope, formed)
    if envelope.type == "MeetingHeld" and members:
        held = read_payload(envelope)
        assert isinstance(held, MeetingHeld)
        return meeting_held(envelope, held, members)
    return []


def feedback_side(envelope: Envelope) -> tuple[int, str] | None:
    if envelope.type != "FeedbackSubmitted":
        return None
    answer = read_payload(envelope)
    assert isinstance(answer, FeedbackSubmitted)
    return answer.meeting_number, answer.side

