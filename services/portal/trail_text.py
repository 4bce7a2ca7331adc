"""The audit trail in words an auditor reads: Russian event names, local times, roles, a short
description of what each event changed (from the payload the audit API returns), and the many
personal-data access records of one day folded into one line.

No routes here: ``pages/auditor.py`` shows what this makes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.portal.auth import ROLE_TITLES
from services.portal.templating import KIND_TITLES, order_phrase, plural, ru_date
from shared import periods
from shared.localtime import to_local
from shared.titles import FORM_TITLES, MEETING_KINDS

#: Every event of the catalogue (``shared/events.py``) as a Russian heading (test_trail_text checks).
EVENT_TITLES = {
    "OrganisationRegistered": "Организация зарегистрирована",
    "ContingentDeclared": "Сведения о контингенте внесены",
    "MentorRegistered": "Наставник внесён в базу",
    "MenteeRegistered": "Наставляемый внесён в базу",
    "ConsentRecorded": "Согласие на обработку персональных данных получено",
    "ConsentWithdrawn": "Согласие на обработку персональных данных отозвано",
    "ProgrammeLaunched": "Программа наставничества запущена",
    "FormsCatalogueConfigured": "Каталог форм наставничества региона изменён",
    "PersonalDataAccessed": "Просмотр персональных данных",
    "PairFormed": "Пара сформирована",
    "PlanGoalSet": "Цель плана развития задана",
    "MeetingHeld": "Встреча проведена",
    "FeedbackSubmitted": "Обратная связь после встречи",
    "PairCompleted": "Работа пары завершена",
    "PairDissolved": "Пара расформирована",
    "PairProposed": "Пара предложена организации наставника",
    "PairProposalConfirmed": "Организация наставника подтвердила пару",
    "PairProposalDeclined": "Организация наставника отклонила пару",
    "SurveyRecorded": "Анкета заполнена",
    "ReportDue": "Наступает срок отчёта",
    "ReportingCalendarOpened": "Календарь отчётности утверждён",
    "DocumentIssued": "Документ сформирован",
    "ReportDrafted": "Отчёт подготовлен",
    "ReportSubmitted": "Отчёт направлен",
    "RoadmapImported": "Дорожная карта загружена",
    "RoadmapItemUpdated": "Отметка в дорожной карте",
    "RoadmapItemDue": "Приближается срок мероприятия дорожной карты",
    "PracticeSubmitted": "Практика предложена в банк лучших практик",
    "PracticePublished": "Практика опубликована в банке лучших практик",
    "PracticeRejected": "Практика отклонена",
    "NominationSubmitted": "Наставник выдвинут на конкурс «Наставник года»",
    "NominationDecided": "Решение по выдвижению на конкурс «Наставник года»",
    "TrainingMaterialPublished": "Материал школы наставников опубликован",
    "TrainingCompleted": "Наставник отметил прохождение обучения",
    "TrainingConfirmed": "Куратор подтвердил прохождение обучения",
}
MEETING_FORMATS = {"in_person": "очно", "online": "дистанционно"}
SIDES = {"mentor": "наставник", "mentee": "наставляемый", "curator": "куратор"}
STAGES = {"quality": "оценка качества программы", "growth_entry": "входная оценка роста",
          "growth_exit": "итоговая оценка роста"}
NOMINATION_STAGES = {"municipality": "Муниципальный этап", "region": "Региональный этап"}
NOMINATION_DECISIONS = {"shortlisted": "включён в короткий список", "winner": "победитель",
                        "declined": "не прошёл отбор"}
LEVELS = {"organisation": "организации", "municipality": "муниципалитета", "region": "региона"}
ITEM_STATUSES = {"planned": "запланировано", "in_progress": "выполняется", "done": "выполнено",
                 "overdue": "просрочено"}
GOAL_STATUSES = {"planned": "запланирована", "in_progress": "в работе", "done": "достигнута",
                 "dropped": "снята"}
DOCUMENT_KINDS = {"pairs_order": "приказ об утверждении пар", "curator_order": "приказ о назначении куратора",
                  "award_order": "приказ о поощрении", "thanks_letter": "благодарственное письмо",
                  "consent": "согласие на обработку персональных данных", "report": "отчёт"}


def local_time(value: str | None) -> str:
    """``2025-10-12T11:05:07.123456Z`` as a Russian reads it in the region's zone
    (Moscow by default): ``12.10.2025 14:05``."""
    moment = parse_moment(value)
    return moment.strftime("%d.%m.%Y %H:%M") if moment else "—"


def parse_moment(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_local(moment)  # the audit log keeps UTC; naive means UTC


def event_title(event_type: str) -> str:
    return EVENT_TITLES.get(event_type, event_type)


def role_title(role: str | None) -> str:
    return ROLE_TITLES.get(role, role or "система")  # type: ignore[call-overload]


def describe(event_type: str, p: Mapping[str, Any]) -> str:
    """What the event changed, in one Russian sentence from its payload («» if nothing to add)."""
    g = p.get

    def w(words: Mapping[str, str], key: str) -> str:  # a coded value's Russian word
        return words.get(g(key, ""), g(key, ""))

    match event_type:
        case "OrganisationRegistered":
            return f"«{g('name', '')}» ({w(KIND_TITLES, 'kind')}), код {g('code', '')}."
        case "ContingentDeclared":
            return (f"{g('school_year', '')} учебный год: обучающихся {g('students_total', 0)}, "
                    f"педагогов {g('teachers_total', 0)}, из них молодых {g('young_teachers', 0)}.")
        case "MentorRegistered" | "MenteeRegistered":
            grade = f", {g('grade')} класс" if g("grade") else ""
            return f"Категория: {g('category', '—')}{grade}, год рождения {g('birth_year', '—')}."
        case "ConsentRecorded":
            return "Дано законным представителем." if g("given_by") == "guardian" else "Дано лично."
        case "ProgrammeLaunched":
            return f"Форма «{w(FORM_TITLES, 'form')}», {g('school_year', '')} учебный год."
        case "PersonalDataAccessed":
            n = len(g("person_ids") or [])
            people = plural(n, "человека", "человек", "человек")
            return f"Просмотрены данные {n} {people}: {g('purpose', '')}."
        case "PairFormed" | "PairProposed" | "PairProposalConfirmed":
            n = len(g("mentee_ids") or [])
            group = f"группа, наставляемых {n}" if n > 1 else "пара"
            order = f", {order_phrase(g('order_ref'))}" if g("order_ref") else ""
            return f"Форма «{w(FORM_TITLES, 'form')}», {group}{order}."
        case "PlanGoalSet":
            due = f", срок {ru_date(g('due'))}" if g("due") else ""
            return f"Цель {w(GOAL_STATUSES, 'status')}{due}."
        case "MeetingHeld":
            return (f"Встреча № {g('number', '?')} ({w(MEETING_KINDS, 'kind')}) "
                    f"проведена {ru_date(g('date'))}, {w(MEETING_FORMATS, 'format')}, "
                    f"{g('duration_minutes', '?')} мин.")
        case "FeedbackSubmitted":
            return (f"Встреча № {g('meeting_number', '?')}: отвечает {w(SIDES, 'side')}, "
                    f"удовлетворённость {g('satisfaction', '?')} из 10.")
        case "PairCompleted":
            n = int(g("meetings") or 0)
            return f"Проведено {n} {plural(n, 'встреча', 'встречи', 'встреч')}."
        case "PairDissolved" | "PairProposalDeclined":
            n = len(g("returned_mentee_ids") or [])
            return f"Вернулись в поиск наставника: {n}." if n else ""
        case "SurveyRecorded":
            return (f"Анкета «{g('survey', '')}» ({w(STAGES, 'stage')}), "
                    f"отвечает {w(SIDES, 'respondent_role')}.")
        case "ReportDue":
            when = "срок прошёл" if g("overdue") else f"осталось дней: {g('days_left', '?')}"
            return (f"Отчёт {LEVELS.get(g('level', ''), '')} за {periods.label(g('period', ''))}: срок "
                    f"{ru_date(g('deadline'))}, {when}.")
        case "ReportingCalendarOpened":
            return f"Год {g('year', '')}."
        case "DocumentIssued":
            return (f"{w(DOCUMENT_KINDS, 'kind').capitalize()} "
                    f"№ {g('number', '')} от {ru_date(g('date'))}.")
        case "ReportDrafted":
            return (f"Отчёт {LEVELS.get(g('level', ''), '')} за {periods.label(g('period', ''))}, "
                    f"срок {ru_date(g('deadline'))}.")
        case "ReportSubmitted":
            return f"Отчёт {LEVELS.get(g('level', ''), '')} за {periods.label(g('period', ''))}."
        case "RoadmapImported":
            return (f"«{g('title', '')}» на {ru_date(g('period_start'))} — {ru_date(g('period_end'))}, "
                    f"мероприятий: {g('items', 0)}.")
        case "RoadmapItemUpdated":
            due = f" (срок {ru_date(g('due_date'))})" if g("due_date") else ""
            evidence = ", с подтверждающим документом" if g("evidence_document_id") else ""
            return (f"Мероприятие № {g('item_id', '')}{due}: "
                    f"{w(ITEM_STATUSES, 'status')}{evidence}.")
        case "RoadmapItemDue":
            return f"Мероприятие № {g('item_id', '')}: срок {ru_date(g('due_date'))}."
        case "NominationSubmitted":
            return f"{g('school_year', '')} учебный год."
        case "NominationDecided":
            return (f"{w(NOMINATION_STAGES, 'stage')} {g('school_year', '')} учебного года: "
                    f"{w(NOMINATION_DECISIONS, 'decision')}.")
        case "TrainingMaterialPublished":
            return f"Форма «{g('form', '')}»."
        case "PracticeSubmitted" | "PracticePublished" | "PracticeRejected":
            tags = ", ".join(g("tags") or [])
            return f"Форма «{w(FORM_TITLES, 'form')}»" + (f", темы: {tags}." if tags else ".")
    return ""


@dataclass
class TrailLine:
    """One line of the trail as the page shows it; ``count`` > 1 for a folded day of accesses."""

    title: str
    when: str
    description: str
    role: str
    user: str
    org: str
    relation: str
    position: int
    record_id: str
    count: int = 1
    users: list[str] = field(default_factory=list)


def trail_lines(entries: Iterable[Mapping[str, Any]], org_names: Mapping[str, str] | None = None
                ) -> list[TrailLine]:
    """The trail in log order, each ``PersonalDataAccessed`` of a local day folded into the line
    of that day's first access (a withdrawn person's history is not buried under them)."""
    org_names = org_names or {}
    lines: list[TrailLine] = []
    access_of_day: dict[datetime.date, TrailLine] = {}
    for e in entries:
        actor = e.get("actor") or {}
        moment = parse_moment(e.get("occurred_at"))
        if e.get("type") == "PersonalDataAccessed" and moment is not None:
            folded = access_of_day.get(moment.date())
            if folded is not None:
                folded.count += 1
                if actor.get("user") and actor["user"] not in folded.users:
                    folded.users.append(actor["user"])
                folded.description = f"Обращений к персональным данным за день: {folded.count}."
                continue
        line = TrailLine(
            title=event_title(str(e.get("type", ""))), when=local_time(e.get("occurred_at")),
            description=describe(str(e.get("type", "")), e.get("payload") or {}),
            role=role_title(actor.get("role")), user=str(actor.get("user", "")),
            org=org_names.get(str(e.get("org", "")), str(e.get("org", ""))),
            relation="сама запись" if e.get("relation") == "subject" else "упоминание",
            position=int(e.get("position", 0)), record_id=str(e.get("aggregate_id", "")),
            users=[actor["user"]] if actor.get("user") else [])
        if e.get("type") == "PersonalDataAccessed" and moment is not None:
            access_of_day[moment.date()] = line
        lines.append(line)
    return lines
