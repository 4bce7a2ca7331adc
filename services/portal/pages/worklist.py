"""The curator's worklist, the page a curator starts on: what is due or late, in one place, each
line leading to the page where it is done — reports to submit, roadmap items late or due soon,
pairs without recent meetings (the pairing service's reminders), meetings without both sides'
feedback, questionnaires not answered, mentees waiting for a pair, and a programme for the
current school year.

Every figure comes from the services' APIs with the user's token; a section whose service does
not answer says so and the rest of the page still opens.

URLs: ``/organisations/{id}/worklist``.
"""

from __future__ import annotations

import asyncio
import datetime
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.collation import ru_key
from services.portal.frame import Session, Signed, page_router, render
from services.portal.lookups import (
    Names,
    current_school_year,
    date_today,
    name_paired_mentors,
    names_of,
)
from services.portal.pages.reports import LEVEL_TITLES, TERRITORIES, load_reports
from services.portal.pages.roadmaps import roadmap_view
from services.portal.survey_status import SURVEYED, curator_expected, expected_of_pair, load_answered
from services.portal.templating import plural
from shared import periods
from shared.auth import OrgPath

router = page_router()
T = TypeVar("T")
ANOTHER = "участник другой организации"
#: How many lines a section lists before «и ещё N» leads to its page.
SHOWN = 10


@dataclass
class Line:
    """One thing to do: what, why, and where it is done."""

    title: str
    detail: str
    href: str
    action: str
    late: bool = False


@dataclass
class Section:
    key: str
    title: str
    #: What the section says when nothing is to be done.
    clear: str
    lines: list[Line] = field(default_factory=list)
    more_href: str | None = None
    failed: bool = False
    #: How many it is about, when one line stands for many («14 наставляемых без пары»): the
    #: summary's tile then says 14, not 1.
    about: int | None = None

    @property
    def late(self) -> int:
        return sum(line.late for line in self.lines)

    @property
    def count(self) -> int:
        return len(self.lines) if self.about is None else self.about


def pair_title(pair: dict[str, Any], names: dict[str, str]) -> str:
    mentees = [names.get(m, ANOTHER) for m in pair["mentee_ids"]]
    return f"{names.get(pair['mentor_id'], ANOTHER)} — {', '.join(mentees)}"


def missing_feedback(pair: dict[str, Any]) -> list[tuple[dict[str, Any], list[str]]]:
    """The pair's meetings without every member's feedback, with who has not given it."""
    found = []
    mentees = len(pair["mentee_ids"])
    for meeting in pair["meetings"]:
        sides = Counter(meeting.get("feedback_from") or [])
        missing = []
        if not sides["mentor"]:
            missing.append("наставника")
        if sides["mentee"] < mentees:
            missing.append("наставляемого" if mentees == 1 else
                           f"наставляемых ({mentees - sides['mentee']} из {mentees})")
        if missing and not meeting.get("missing_feedback_reason"):  # excused by the curator
            found.append((meeting, missing))
    return found


async def guarded(section: Section, work: Awaitable[T]) -> T | None:
    """A section's data, or None with the section marked failed: one service down must not
    take the whole worklist with it."""
    try:
        return await work
    except ApiError as exc:
        if exc.status == 401:
            raise
        section.failed = True
        return None


async def reports_section(s: Session, org: dict[str, Any]) -> Section:
    section = Section("reports", "Отчёты к сдаче", "Отчётов к сдаче нет.",
                      more_href=f"/organisations/{org['id']}/reports")
    # An organisation reports for itself alone: no need for the list of every unit.
    data = await guarded(section, load_reports(s, org["path"], [org]))
    for r in data.to_submit if data else []:
        late = r["status"] == "overdue"
        href = f"/reports/{r['draft']['id']}/submit" if r.get("draft") else \
            f"/organisations/{org['id']}/reports"
        level = LEVEL_TITLES.get(r.get("level", ""), "")
        section.lines.append(Line(
            f"Информационно-аналитический отчёт за {period_words(r['period'])}",
            ("срок прошёл " if late else "срок — ") + ru_day(r["deadline"]) + (f"; {level}" if level else ""),
            href,
            "Подготовить и сдать" if r.get("draft") else "Открыть отчётность", late))
    return section


def period_words(value: str) -> str:
    return periods.label(value)


def ru_day(value: str | datetime.date | None) -> str:
    if not value:
        return "—"
    day = value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value)[:10])
    return f"{day:%d.%m.%Y}"


async def roadmap_section(s: Session, org: dict[str, Any], today: datetime.date) -> Section:
    section = Section("roadmap", "Дорожная карта", "Просроченных мероприятий и сроков на ближайшие "
                      "две недели нет.", more_href=f"/organisations/{org['id']}/roadmap")

    async def load() -> list[dict[str, Any]]:
        listed = await s.api.get("/documents/roadmaps", under=org["path"])
        return list(await asyncio.gather(*(s.api.get(f"/documents/roadmaps/{r['id']}") for r in listed)))

    href = f"/organisations/{org['id']}/roadmap"
    for roadmap in await guarded(section, load()) or []:
        view = roadmap_view(roadmap, today)
        items = sorted((i for i in view["items"] if i["late"] or i["soon"]),
                       key=lambda i: (not i["late"], i["late_since"] or i["next_due"] or today))
        for item in items:
            when = (f"просрочено с {ru_day(item['late_since'])}" if item["late_since"] else "просрочено") \
                if item["late"] else f"срок — {ru_day(item['next_due'])}"
            section.lines.append(Line(item["activity"], when, href, "Отметить выполнение", item["late"]))
    return section


async def pairs_sections(s: Session, org: dict[str, Any], names: dict[str, str],
                         listed: Awaitable[list[dict[str, Any]] | None]) -> tuple[Section, Section]:
    pairs = f"/organisations/{org['id']}/pairs?status=active"
    inactive = Section("inactive", "Пары без встреч", "У всех действующих пар были недавние встречи.",
                       more_href=pairs)
    feedback = Section("feedback", "Встречи без обратной связи",
                       "Обратная связь получена по всем встречам.", more_href=pairs)
    reminders, pairs_listed = await asyncio.gather(
        guarded(inactive, s.api.get("/pairing/reminders")), listed)
    if pairs_listed is None:
        feedback.failed = True
    elif not any(p["status"] == "active" for p in pairs_listed):
        # «в порядке» with nothing to check would hide that no pair is at work at all
        inactive.clear = feedback.clear = "Действующих пар нет: проверять нечего."
    for r in reminders or []:
        if r["organisation_id"] != org["id"]:
            continue
        inactive.lines.append(Line(pair_title(r, names), r["message"], f"/pairs/{r['id']}",
                                   "Завершить работу" if r["code"] == "FINAL_HELD" else "Отметить встречу",
                                   late=True))

    async def load() -> list[dict[str, Any]]:
        # the list carries counts only: who answered is on each pair's own page
        return list(await asyncio.gather(*(s.api.get(f"/pairing/pairs/{p['id']}")
                                           for p in pairs_listed or []
                                           if p["status"] == "active" and p["meetings"])))

    for pair in sorted(await guarded(feedback, load()) or [],
                       key=lambda p: ru_key(names.get(p["mentor_id"]))):
        for meeting, missing in missing_feedback(pair):
            feedback.lines.append(Line(
                pair_title(pair, names),
                f"встреча № {meeting['number']} от {ru_day(meeting['date'])}: нет отзыва "
                + " и ".join(missing), f"/pairs/{pair['id']}#feedback", "Внести отзыв"))
    return inactive, feedback


async def surveys_section(s: Session, org: dict[str, Any], names: dict[str, str],
                          listed: Awaitable[list[dict[str, Any]] | None]) -> Section:
    section = Section("surveys", "Анкеты без ответа", "Все нужные сейчас анкеты заполнены.",
                      more_href=f"/organisations/{org['id']}/surveys?show=missing")

    async def load() -> list[Any]:
        pairs, questionnaires = await asyncio.gather(listed, s.api.get("/monitoring/questionnaires"))
        if pairs is None:
            raise ApiError(503, "PAIRING_UNAVAILABLE", "Сервис пар недоступен")
        expected = [e for p in pairs if p["status"] in SURVEYED
                    for e in expected_of_pair(p, questionnaires, names)]
        own = curator_expected(questionnaires, org["id"])
        expected += [own] if own else []
        await load_answered(s.api, org["path"], expected)
        return [e for e in expected if e.due and not e.done]

    missing = await guarded(section, load()) or []
    for e in sorted(missing, key=lambda e: (e.pair_id is not None, ru_key(e.name))):
        section.lines.append(Line(e.name, f"{e.questionnaire['title']}", e.url, "Заполнить"))
    return section


async def pool_section(s: Session, org: dict[str, Any], names: dict[str, str]) -> Section:
    section = Section("pool", "Ждут пару", "Все наставляемые с согласием уже в парах.")
    pool = await guarded(section, s.api.get(f"/pairing/organisations/{org['id']}/pool"))
    waiting = [m for m in (pool or {}).get("mentees", []) if m["in_pool"] and m["consent"]]
    if waiting:
        free = sum(max(0, m["capacity"] - m["load"]) for m in pool["mentors"]
                   if m["consent"] and not m["withdrawn"])
        n = section.about = len(waiting)
        section.lines.append(Line(
            f"{n} {plural(n, 'наставляемый', 'наставляемых', 'наставляемых')} без пары",
            f"свободных мест у наставников организации: {free}",
            f"/organisations/{org['id']}/pairing", "Перейти к подбору пар"))
    return section


async def programme_section(s: Session, org: dict[str, Any], today: datetime.date) -> Section:
    year = current_school_year(today)
    section = Section("programme", "Программа наставничества",
                      f"Программа на {year} учебный год запущена.")
    programmes = await guarded(section, s.api.get(f"/registry/organisations/{org['id']}/programmes"))
    if programmes is not None and not any(p["school_year"] == year for p in programmes):
        section.lines.append(Line(f"Нет программы на {year} учебный год",
                                  "без программы не подобрать пары нового года",
                                  f"/organisations/{org['id']}/programmes", "Запустить программу"))
    return section


async def organisation_pairs(s: Session, org: dict[str, Any],
                             names: Names) -> list[dict[str, Any]] | None:
    """Every pair filed at the organisation, or None while the pairing service does not answer."""
    try:
        pairs: list[dict[str, Any]] = await s.api.get("/pairing/pairs", organisation_id=org["id"])
        await name_paired_mentors(s, pairs, names)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return None
    return pairs


async def awaited(task: asyncio.Future[T]) -> T:
    """One result awaited by several sections (a future may be awaited more than once)."""
    return await task


@router.get("/organisations/{organisation_id}/worklist")
async def worklist_page(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org, names = await asyncio.gather(s.api.get(f"/registry/organisations/{organisation_id}"),
                                      names_of(s, organisation_id))
    if org["kind"] in TERRITORIES:
        return RedirectResponse(f"/reports?org={org['path']}", status_code=303)
    today = datetime.date.fromisoformat(date_today())
    # One list of the organisation's pairs for every section (and the names of the mentors
    # from other organisations its confirmed pairs grant), asked for once.
    listed = asyncio.ensure_future(organisation_pairs(s, org, names))
    programme, reports, roadmap, (inactive, feedback), surveys, pool = await asyncio.gather(
        programme_section(s, org, today), reports_section(s, org), roadmap_section(s, org, today),
        pairs_sections(s, org, names, awaited(listed)), surveys_section(s, org, names, awaited(listed)),
        pool_section(s, org, names))
    sections = [reports, roadmap, inactive, feedback, surveys, pool, programme]
    return render(request, "worklist.html", actor=s.actor, org=org, sections=sections, shown=SHOWN,
                  today=today, plural=plural,
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  todo=sum(len(x.lines) for x in sections), late=sum(x.late for x in sections))
