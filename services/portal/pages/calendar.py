"""The reporting calendar as the region configures it: for each level, the yearly deadlines of
its reports to the level above and the days before each when a reminder goes out. The monitoring
service keeps the calendar, checks its rules and decides who may change it
(``PUT /monitoring/calendar``: the region's operator); this page only writes what it is given as
people say dates («20.12») in the form the service reads («12-20»).

URLs: ``/calendar``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request, Response

from services.portal import navigation
from services.portal.frame import Signed, page_router, render, see_other
from services.portal.templating import templates
from shared.errors import DomainError

router = page_router()
templates.env.globals.update(configures_calendar=navigation.configures_calendar)
#: The levels that report, with who reports to whom, in the order the form shows them.
LEVELS = {"organisation": "Организации — муниципалитету", "municipality": "Муниципалитеты — региону"}
DAY_MONTH = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\s*$")


def to_month_day(text: str) -> str:
    """«20.12» → ``12-20``; the service checks that the day exists."""
    found = DAY_MONTH.match(text)
    if not found:
        raise DomainError("VALIDATION_ERROR", f"Срок «{text.strip()}» укажите как ДД.ММ, например 20.12", 422)
    day, month = (int(g) for g in found.groups())
    return f"{month:02d}-{day:02d}"


def to_day_month(due: str) -> str:
    month, day = due.split("-")
    return f"{day}.{month}"


def deadlines_of(text: str) -> list[str]:
    dates = [to_month_day(part) for part in text.replace(";", ",").split(",") if part.strip()]
    if not dates:
        raise DomainError("VALIDATION_ERROR", "Укажите хотя бы один срок отчёта", 422)
    return dates


def reminders_of(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError as exc:
        raise DomainError("VALIDATION_ERROR", "Напоминания укажите числами дней через запятую", 422) from exc


def form_values(config: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """What the form shows for each level: the calendar in force (or nothing yet)."""
    levels = (config or {}).get("levels") or {}
    return {level: {"deadlines": ", ".join(to_day_month(d["due"]) for d in levels[level]["deadlines"]),
                    "reminders": ", ".join(str(r) for r in levels[level]["reminders"])}
            for level in LEVELS if level in levels}


@router.get("/calendar")
async def calendar_page(request: Request, s: Signed) -> Response:
    state = await s.api.get("/monitoring/calendar")
    return render(request, "calendar.html", actor=s.actor, levels=LEVELS,
                  values=form_values(state.get("config")), configured=state["configured"],
                  editable=navigation.configures_calendar(s.actor),
                  saved=request.query_params.get("saved") == "1")


@router.post("/calendar")
async def configure(request: Request, s: Signed,
                    organisation_deadlines: Annotated[str, Form(max_length=200)],
                    organisation_reminders: Annotated[str, Form(max_length=100)],
                    municipality_deadlines: Annotated[str, Form(max_length=200)],
                    municipality_reminders: Annotated[str, Form(max_length=100)]) -> Response:
    """The levels from the form; the rest of the calendar in force (time zone, first day) kept."""
    current = (await s.api.get("/monitoring/calendar")).get("config") or {}
    kept = {k: current[k] for k in ("timezone", "start", "overdue_horizon_days") if k in current}
    given = {"organisation": (organisation_deadlines, organisation_reminders),
             "municipality": (municipality_deadlines, municipality_reminders)}
    levels = {level: {"deadlines": deadlines_of(d), "reminders": reminders_of(r)}
              for level, (d, r) in given.items()}
    await s.api.put("/monitoring/calendar", json={**kept, "levels": levels})
    return see_other(request, "/calendar?saved=1")
