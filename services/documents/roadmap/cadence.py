"""Due dates of recurring work: "1 раз в квартал", "ежеквартально", and a cadence named in the
activity itself ("Заседание рабочей группы 1 раз в квартал" beside "в течение года").

A quarterly task is due at the end of each calendar quarter inside the period (or inside the
years its deadline names: "ежеквартально в 2023 году" is the four quarters of 2023).  A cadence
written in the activity counts only when the deadline cell gives no date of its own or spreads
the work over a span ("в течение 2023 года"): the cell is what the office filled in as the
deadline, the activity's words are a hint.
"""

from __future__ import annotations

import re
from datetime import date

from services.documents.roadmap.deadlines import normalize_phrase, parse_deadline, years_mentioned
from services.documents.roadmap.models import Period

_QUARTERLY = re.compile(r"ежеквартальн|раз\w*\s+в\s+квартал")
# Only the adverb or an explicit count: "ежегодного конкурса" names a contest, not a cadence.
_ANNUAL_IN_ACTIVITY = re.compile(r"(?<![а-я])ежегодно(?![а-я])|\d+\s+раз\w*\s+в\s+год(?![а-я])")
_QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))


def quarter_ends(period: Period, years: set[int] | None = None) -> list[date]:
    return [
        day
        for year in range(period.start.year, period.end.year + 1)
        if not years or year in years
        for month, last in _QUARTER_ENDS
        if period.contains(day := date(year, month, last))
    ]


def due_dates(deadline: str, activity: str, period: Period) -> tuple[list[date], bool]:
    """The item's due dates and whether its work is ongoing."""
    days, continuous = parse_deadline(deadline, period)
    named_years = set(years_mentioned(deadline)) or None
    if _QUARTERLY.search(normalize_phrase(deadline)):
        days = [*days, *quarter_ends(period, named_years)]
    elif not days or continuous:
        wording = normalize_phrase(activity)
        if _QUARTERLY.search(wording):
            days = [*days, *quarter_ends(period, named_years)]
        elif _ANNUAL_IN_ACTIVITY.search(wording):
            days = [*days, *parse_deadline(f"{deadline}, ежегодно", period)[0]]
    return sorted(set(days)), continuous
