"""Reading Russian deadline phrases ("до 25.09.2023", "Май-июнь 2021 г.", "Июнь ежегодно"...).

The main entry point is :func:`parse_deadline`. It never guesses: a phrase (or part of a phrase)
that cannot be read yields no date, and the caller keeps the original text.

Resolution rules, in short:

* a day ("30.09.2023", "25 сентября 2023 г.") is that day; a decade ("1 декада сентября") ends on
  the 10th, 20th or the last day of its month;
* a month, a month range or a numeric month ("09.2023") is the last day of the (last) month;
* a quarter / half-year ("I квартал", "третий квартал", "первое полугодие") is its last day; a
  bare year ("2023 г.") is 31 December; school years ("2023-2024 учебный год", "2022-2024
  учебные годы") end on 31 August of their last year;
* a month qualified by a school year ("май 2023-2024 уч. года") lies in the first year for
  September-December and in the second for January-August; "I полугодие" of a school year is
  its autumn half (31 December of the first year); "II полугодие" of a school year is left
  unread (teaching ends in May, the school year on 31 August: either could be meant), and so is
  a quarter of a school year (the calendar quarter, or the school's own quarter starting in
  September?) and anything qualified by several school years at once;
* a bare year in a list after a month or a day repeats that month or day: "май 2023, 2024" is
  May of both years;
* the first part of a range ("май-июнь", "с 01.09.2023 по ...") and anything introduced by
  "с"/"начиная с"/"от"/"после"/"не ранее" is a start, not a deadline;
* a date counted from ("за 5 дней до 01.09.2023", "10 дней после ...") gives nothing: the
  offset is not read;
* a span (year, month, quarter...) narrowed by a word the parser does not know ("начало 2024
  года", "весна 2023", "первая неделя сентября", "по итогам 2023 года") gives nothing; only
  words that keep the end of the span ("до", "в течение", "к концу"...) may stand before it;
* a month/day without a year ("июнь", "30 июня", "30.06") takes the year of the next item of a
  list ("июнь, декабрь 2023"), otherwise the single year in which it falls inside the period
  (so in a school year September-December belong to the first year and January-August to the
  second); if the period holds it more than once the phrase is ambiguous and yields nothing;
* "ежегодно" / "N раз в год" repeats every stated day or month in each year up to the
  period's end;
* a half-year without a year ("I полугодие") is left unread in a school-year period, where
  it would mean autumn rather than spring;
* ``continuous`` is set by "постоянно", "в течение (учебного) года / всего периода",
  "по мере необходимости", "ежемесячно", "1 раз в месяц" and similar ongoing wording, but
  not by "в течение 10 дней";
* the result is deduplicated and sorted chronologically.

Why a grammar of our own: no pinned dependency reads Russian deadline phrases.  ``dateparser``
is not installed; ``python-dateutil`` (pinned) knows English month names only; and none of them
knows what offices write -- quarters and half-years in Roman figures, school years ("2023/24
уч. г."), decades, "далее ежегодно", a start that is not a deadline.  The month names and their
case forms are a closed list, written out once below.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from services.documents.roadmap.models import Period

# Each month with all its case forms plus the usual abbreviations.  The text is lower-cased
# and "ё" is folded to "е" before matching, so only those spellings are needed.
_MONTH_FORMS: dict[int, str] = {
    1: r"январ(?:ь|я|е|ю|ем)|янв",
    2: r"феврал(?:ь|я|е|ю|ем)|февр|фев",
    3: r"март(?:а|е|у|ом)?|мар",
    4: r"апрел(?:ь|я|е|ю|ем)|апр",
    5: r"ма(?:й|я|е|ю|ем)",
    6: r"июн(?:ь|я|е|ю|ем)?",
    7: r"июл(?:ь|я|е|ю|ем)?",
    8: r"август(?:а|е|у|ом)?|авг",
    9: r"сентябр(?:ь|я|е|ю|ем)|сент|сен",
    10: r"октябр(?:ь|я|е|ю|ем)|окт",
    11: r"ноябр(?:ь|я|е|ю|ем)|нояб|ноя",
    12: r"декабр(?:ь|я|е|ю|ем)|дек",
}
_LETTER = "a-zа-я"
_MONTH = rf"(?<![{_LETTER}])(?:" + "|".join(_MONTH_FORMS.values()) + rf")(?![{_LETTER}])\.?"
_MONTH_RES = {number: re.compile(rf"^(?:{forms})\.?$") for number, forms in _MONTH_FORMS.items()}
_YEAR = r"(?:19|20)\d{2}"
# "г.", "гг.", "г.г.", "года", "годы" after a year belong to its token, so that the items of a
# list or a range ("2022 г., 2023 г.", "2022 г. - 2024 г.") are separated by punctuation only.
_YEAR_WORD = r"(?:\s*(?:г\.\s*г\.?|гг?\.?|год(?:а|у|ом|ы|ов)?)(?![а-я]))?"
# "2023-2024 учебный год", "2023/24 уч. г.", "2022-2024 учебных годов".
_SCHOOL_YEARS = (
    rf"(?<![\d.])(?P<sy1>{_YEAR})\s*[-/]\s*(?P<sy2>{_YEAR}|\d{{2}})(?![\d.])"
    r"\s*(?:гг?\.?|годы?|года|году)?\s*(?:учебн[а-я]*|уч(?:\.|(?=\s*г)))"
    r"(?:\s*(?:г\.\s*г\.?|гг?\.?|год[а-я]*)(?![а-я]))?"
)
# What may follow a day, a month, a quarter or a half-year: a school year or a year.
_YEAR_TAIL = rf"(?:\s*(?:{_SCHOOL_YEARS}|(?P<y>{_YEAR})(?!\d){_YEAR_WORD}))?"
# Ordinals are spelled out as often as written in figures: "первый квартал", "во втором полугодии".
_QUARTER_NUMBER = (
    r"(?:(?P<q>iv|i{1,3}|[1-4])\s*(?:-?(?:й|ой|ый|ом|ого|м|го))?"
    r"|(?P<qw>перв(?:ый|ого|ом|ому|ым)|втор(?:ой|ого|ом|ому|ым)|трет(?:ий|ьего|ьем|ьему|ьим)"
    r"|четверт(?:ый|ого|ом|ому|ым))(?![а-я]))"
)
_HALF_NUMBER = (
    r"(?:(?P<h>ii|i|[12])\s*(?:-?(?:е|ое|ом|м|го))?"
    r"|(?P<hw>перв(?:ое|ого|ом|ому|ым)|втор(?:ое|ого|ом|ому|ым))(?![а-я]))"
)
_DECADE_NUMBER = (
    r"(?:(?P<dn>iii|ii|i|[1-3])\s*(?:-?(?:я|ая|й|ой))?"
    r"|(?P<dw>перв(?:ая|ой|ую)|втор(?:ая|ой|ую)|трет(?:ья|ьей|ью)|последн(?:яя|ей|юю))(?![а-я]))"
)

# Token patterns, most specific first: on equal start the longest match wins anyway.
_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("school_year", re.compile(_SCHOOL_YEARS)),
    ("iso", re.compile(rf"(?<!\d)(?P<y>{_YEAR})-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?!\d)")),
    (
        "numeric_date",
        re.compile(
            rf"(?<![\d.])(?P<d>\d{{1,2}})[./](?P<m>\d{{1,2}})[./](?P<y>{_YEAR}|\d{{2}})(?![\d]){_YEAR_WORD}"
        ),
    ),
    ("numeric_month", re.compile(rf"(?<![\d./])(?P<m>\d{{1,2}})[./](?P<y>{_YEAR})(?![\d]){_YEAR_WORD}")),
    # "30.06" without a year; the month must have two digits so that "1.2" (an item number)
    # or "0.5" is not read as a date, and a time such as "14.30" fails the month check.
    ("numeric_day_month", re.compile(r"(?<![\d.,])(?P<d>\d{1,2})\.(?P<m>\d{2})(?![\d]|[.,]\d)")),
    (
        "decade",
        re.compile(
            rf"(?<![{_LETTER}\d.]){_DECADE_NUMBER}\s*декад(?:а|ы|е|у|ой)\s*(?P<mon>{_MONTH}){_YEAR_TAIL}"
        ),
    ),
    ("day_month", re.compile(rf"(?<![\d.])(?P<d>\d{{1,2}})\s*(?P<mon>{_MONTH}){_YEAR_TAIL}")),
    ("month", re.compile(rf"(?P<mon>{_MONTH}){_YEAR_TAIL}")),
    (
        "quarter",
        re.compile(
            rf"(?<![{_LETTER}\d]){_QUARTER_NUMBER}\s*(?:квартал[а-я]*|кв(?:\.|(?![а-я]))){_YEAR_TAIL}"
        ),
    ),
    (
        "half_year",
        re.compile(rf"(?<![{_LETTER}\d]){_HALF_NUMBER}\s*полугоди[а-я]*{_YEAR_TAIL}"),
    ),
    ("year", re.compile(rf"(?<![\d.])(?P<y>{_YEAR})(?![\d.]){_YEAR_WORD}")),
)

# "п. 3.10", "№ 1.12", "раздел 2.05": a reference to a clause or a table, not the day.month "3.10".
_REFERENCE_BEFORE = re.compile(
    r"(?:^|[^а-я])(?:п|пп|пункт[а-я]*|№|стр|ст|раздел[а-я]*|глав[а-я]*|таблиц[а-я]*|рис)\.?\s*$"
)

_QUARTER_END_MONTH = {"i": 3, "1": 3, "ii": 6, "2": 6, "iii": 9, "3": 9, "iv": 12, "4": 12}
_HALF_END_MONTH = {"i": 6, "1": 6, "ii": 12, "2": 12}
_DECADE_END_DAY = {"i": 10, "1": 10, "ii": 20, "2": 20}  # the third one ends with its month
# Spelled-out ordinals by their stem: "перв-" is 1, "втор-" 2...
_ORDINAL_STEMS = {"перв": "1", "втор": "2", "трет": "3", "четв": "4", "посл": "3"}

# Kinds that name a span of time whose last day is taken as the deadline.
_SPAN_KINDS = frozenset({"month", "numeric_month", "quarter", "half_year", "year", "school_year"})
# The only words that may stand right before such a span: they keep its end as the deadline.
# Anything else ("начало", "середина", "весна", "неделя", "итогам"...) may pick a part of the
# span or a moment after it, so the span is left unread rather than guessed.
_SPAN_LEAD_WORDS = frozenset(
    {"до", "к", "ко", "в", "во", "на", "по", "не", "позднее", "позже", "течение", "протяжении"}
    | {"весь", "всего", "всей", "конец", "конца", "концу", "конце", "окончания", "окончанию"}
    | {"окончании", "завершения", "и", "или", "либо", "а", "также", "затем", "далее", "потом"}
    | {"ежегодно", "срок", "сроки", "год", "года", "году", "г", "гг", "с", "со", "от", "начиная"}
)
# What separates the clause a token belongs to from the words before it.
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]«»\"]|\s-|-\s")
_WORD = re.compile(rf"[{_LETTER}]+")
# "I-II квартал", "первое-второе полугодие": the first numeral opens a range of the same unit.
_UNIT_RANGE_START = re.compile(r"(?:^|[\s(])(?:iv|i{1,3}|перв[а-я]*|втор[а-я]*|трет[а-я]*)\s*-\s*$")
# "за 5 дней до ...", "10 рабочих дней после ...": the date is a reference point, not the deadline.
_DURATION = re.compile(
    r"\d+(?:\s*-?\s*[а-я]{1,3})?\s+(?:(?:рабоч|календарн)[а-я]*\s+)?"
    r"(?:дн(?:я|ей|и)|день|сут(?:ок|ки)|недел[а-я]*|месяц[а-я]*)(?![а-я])"
)

# "с 2023 года", "начиная с сентября", "от 01.09.2023", "после 01.09.2023": the token is a start.
_START_MARKER = re.compile(r"(?:^|[\s(,;:])(?:с|со|начиная\s+с|начиная\s+со|от|после|не\s+ранее)\s*$")
# Between the two ends of a range: "май-июнь", "01.09.2023 по 31.12.2023", "2022 - 2024".
_RANGE_JOINER = re.compile(r"^\s*(?:-|по|/)\s*$")
# Between items of one list sharing the last item's year: "июнь, декабрь 2023".
_LIST_JOINER = re.compile(r"^[\s,;]*(?:и\s*)?$")

_ANNUAL = re.compile(r"ежегодн|раз\w*\s+в\s+год(?![а-я])|каждый\s+год|каждого\s+года")
_CONTINUOUS = re.compile(
    r"постоянн"
    r"|в\s+течени[еи](?!\s+\d+\s*(?:-?х\s*)?(?:дн|рабоч|календ|недел|месяц|час))"
    r"|на\s+протяжении"
    r"|по\s+мере"
    r"|по\s+необходимост"
    r"|при\s+необходимост"
    r"|весь\s+период"
    r"|систематическ|регулярн|непрерывн"
    r"|ежедневн|еженедельн|ежемесячн|ежеквартальн"
    r"|раз\w*\s+в\s+(?:день|недел|месяц|квартал|четверт|полугоди)"
)


def normalize_phrase(text: str) -> str:
    """Lower-case, fold "ё", unify dashes and squeeze whitespace so the patterns stay simple."""
    # Roman quarters are sometimes typed with the Cyrillic "І" that looks like the Latin one.
    text = text.lower().replace("ё", "е").replace("і", "i")
    text = re.sub(r"[\u2010-\u2015\u2212\u00ad]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def month_from_word(word: str) -> int | None:
    """Month number for a Russian month name in any case or abbreviation, else None."""
    normalized = normalize_phrase(word)
    for number, pattern in _MONTH_RES.items():
        if pattern.match(normalized):
            return number
    return None


@dataclass
class _Token:
    """A date-like fragment: a day (day set) or the end of a month (day None)."""

    start: int
    end: int
    kind: str
    month: int
    day: int | None = None
    year: int | None = None
    is_start: bool = False  # introduced by "с"/"от" or first half of a range
    unread: bool = False  # recognised, but its date cannot be told for sure: it gives nothing
    school_start: int | None = None  # first year of the school year that qualified it

    def on_year(self, year: int) -> date | None:
        day = self.day if self.day is not None else calendar.monthrange(year, self.month)[1]
        try:
            return date(year, self.month, day)
        except ValueError:  # 29 February in a common year, 31 April...
            return None

    def place_in_school_year(self, first: int) -> None:
        """Give the token the calendar year it has inside school year ``first``/``first + 1``."""
        if self.kind == "quarter":
            # "I квартал 2023-2024 уч. года": the calendar quarter (January-March) or the first
            # quarter of the school year (September-November)?  Both readings occur.
            self.unread = True
        elif self.kind == "half_year":
            # The school's first half-year runs from September to the winter break, so it ends
            # with December.  The second one ends with teaching in May, or with the school year
            # on 31 August -- either could be meant.
            self.unread = self.month != 6
            self.month, self.year = 12, first
        else:  # a month or a day: September-December in the first year, the rest in the second
            self.year = first if self.month >= 9 else first + 1
        self.school_start = first


def _school_span(first_text: str, last_text: str) -> tuple[int, int] | None:
    """First and last calendar year of "2023-2024" / "2023/24"; None when reversed."""
    first = int(first_text)
    last = int(last_text) if len(last_text) == 4 else first // 100 * 100 + int(last_text)
    return (first, last) if last > first else None


def _ordinal(groups: dict[str, str | None], figure: str, word: str) -> str:
    if groups.get(figure):
        return str(groups[figure])
    return _ORDINAL_STEMS[str(groups[word])[:4]]


def _token_from_match(kind: str, match: re.Match[str]) -> _Token | None:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else None
    if kind == "numeric_date" and year is not None and year < 100:
        year += 2000
    start, end = match.span()
    school = _school_span(groups["sy1"], groups["sy2"]) if groups.get("sy1") else None
    if kind == "school_year":
        if school is None:  # "2024-2022 уч. год" is no school year: not a date either
            return _Token(start, end, kind, month=8, day=31, unread=True)
        return _Token(start, end, kind, month=8, day=31, year=school[1], school_start=school[0])
    if kind == "numeric_day_month" and _REFERENCE_BEFORE.search(match.string[:start]):
        return None
    if kind in ("iso", "numeric_date", "numeric_day_month"):
        token = _Token(start, end, kind, month=int(groups["m"]), day=int(groups["d"]), year=year)
        if not 1 <= token.month <= 12 or token.on_year(year or 2000) is None:  # 2000 is leap
            return None  # not a real date: leave the text unread
        return token
    if kind == "numeric_month":
        month = int(groups["m"])
        return _Token(start, end, kind, month=month, year=year) if 1 <= month <= 12 else None
    if kind in ("day_month", "month", "decade"):
        month = month_from_word(groups["mon"])
        if month is None:
            return None
        day = int(groups["d"]) if groups.get("d") else None
        if kind == "decade":
            day = _DECADE_END_DAY.get(_ordinal(groups, "dn", "dw"))
        token = _Token(start, end, kind, month=month, day=day, year=year)
        if day is not None and token.on_year(2000) is None:  # 2000 is leap: 29.02 is fine
            return None
    elif kind == "quarter":
        token = _Token(start, end, kind, month=_QUARTER_END_MONTH[_ordinal(groups, "q", "qw")], year=year)
    elif kind == "half_year":
        token = _Token(start, end, kind, month=_HALF_END_MONTH[_ordinal(groups, "h", "hw")], year=year)
    else:
        return _Token(start, end, kind, month=12, year=year)  # a bare year
    if groups.get("sy1"):
        if school is None or school[1] != school[0] + 1:
            token.unread = True  # "май 2022-2024 учебных годов": which May?
        else:
            token.place_in_school_year(school[0])
    return token


def _tokenize(text: str) -> list[_Token]:
    """All date-like fragments of a normalized phrase, left to right, without overlaps."""
    candidates: list[_Token] = []
    for kind, pattern in _TOKEN_PATTERNS:
        for match in pattern.finditer(text):
            token = _token_from_match(kind, match)
            if token is not None:
                candidates.append(token)
    candidates.sort(key=lambda token: (token.start, -(token.end - token.start)))
    tokens: list[_Token] = []
    for token in candidates:
        if not tokens or token.start >= tokens[-1].end:
            tokens.append(token)
    return tokens


def _is_narrowed(text: str, token: _Token, previous_end: int) -> bool:
    """Whether the words just before a token make its own end no sure deadline."""
    clause = _CLAUSE_BREAK.split(text[previous_end : token.start])[-1]
    if _DURATION.search(clause):
        return True  # "за 5 дней до 01.09.2023": the offset is not read, so neither is the date
    if token.kind not in _SPAN_KINDS:
        return False
    if token.kind in ("quarter", "half_year") and _UNIT_RANGE_START.search(clause):
        return False
    words = _WORD.findall(clause)
    return bool(words) and words[-1] not in _SPAN_LEAD_WORDS


def _mark_tokens(text: str, tokens: list[_Token]) -> None:
    """Flag starts and unreadable tokens, then let years and months travel along lists."""
    for index, token in enumerate(tokens):
        if _START_MARKER.search(text[: token.start]):
            token.is_start = True
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following is not None and _RANGE_JOINER.match(text[token.end : following.start]):
            token.is_start = True
        if _is_narrowed(text, token, tokens[index - 1].end if index else 0):
            token.unread = True
    # Walk backwards so a year travels along a whole list: "май, июнь, декабрь 2023".
    for index in range(len(tokens) - 2, -1, -1):
        token, following = tokens[index], tokens[index + 1]
        if token.year is not None or following.year is None or token.kind == "year" or following.unread:
            continue
        between = text[token.end : following.start]
        if _LIST_JOINER.match(between) or _RANGE_JOINER.match(between):
            if following.school_start is not None:
                token.place_in_school_year(following.school_start)
            else:
                token.year = following.year
    # Walk forwards so a month or a day travels along a list of years: "май 2022, 2023, 2024".
    for previous, token in zip(tokens, tokens[1:], strict=False):
        if (
            token.kind == "year"
            and previous.kind not in ("year", "school_year")
            and previous.year is not None
            and not (previous.unread or previous.is_start or token.unread)
            and _LIST_JOINER.match(text[previous.end : token.start])
        ):
            token.kind, token.month, token.day = previous.kind, previous.month, previous.day


def _only_year_in_period(token: _Token, period: Period) -> date | None:
    found = [
        day
        for year in range(period.start.year, period.end.year + 1)
        if (day := token.on_year(year)) is not None and period.contains(day)
    ]
    return found[0] if len(found) == 1 else None


def _is_school_year(period: Period | None) -> bool:
    return period is not None and period.start.month != 1


def _repeat_yearly(token: _Token, period: Period, first_year: int | None) -> list[date]:
    if token.year is not None:
        years = range(token.year + 1, period.end.year + 1)
    else:
        years = range(max(period.start.year, first_year or period.start.year), period.end.year + 1)
    repeated: list[date] = []
    for year in years:
        day = token.on_year(year)
        if day is None or day > period.end:
            continue
        if token.year is None and day < period.start:
            continue
        repeated.append(day)
    return repeated


def is_continuous(text: str) -> bool:
    """True for "постоянно", "в течение года", "по мере необходимости" and the like."""
    return bool(_CONTINUOUS.search(normalize_phrase(text)))


def parse_deadline(text: str, period: Period | None) -> tuple[list[date], bool]:
    """Return the concrete due dates a deadline phrase gives and whether the work is continuous.

    ``period`` resolves months without a year and expands "ежегодно"; with ``None`` only dates
    that carry their own year are returned (used to guess the period in the first place).
    """
    normalized = normalize_phrase(text)
    if not normalized:
        return [], False
    tokens = _tokenize(normalized)
    _mark_tokens(normalized, tokens)
    annual = bool(_ANNUAL.search(normalized))
    repeat_from = min(
        (token.year for token in tokens if token.is_start and not token.unread and token.year is not None),
        default=None,
    )

    due: list[date] = []
    for token in tokens:
        if token.is_start or token.unread:
            continue
        if token.kind == "half_year" and token.year is None and _is_school_year(period):
            continue  # "I полугодие" of a school year is autumn, of a calendar year spring
        if token.year is not None:
            day = token.on_year(token.year)
            if day is not None:
                due.append(day)
        elif period is not None and not annual:
            day = _only_year_in_period(token, period)
            if day is not None:
                due.append(day)
        if annual and period is not None:
            due.extend(_repeat_yearly(token, period, repeat_from))
    return sorted(set(due)), bool(_CONTINUOUS.search(normalized))


def looks_like_deadline(text: str) -> bool:
    """Whether a cell reads as a deadline at all (a date, a month, "ежегодно", "постоянно"...)."""
    normalized = normalize_phrase(text)
    return bool(_tokenize(normalized) or _ANNUAL.search(normalized) or _CONTINUOUS.search(normalized))


def years_mentioned(text: str) -> list[int]:
    """Years of the dates a deadline phrase states explicitly (used to infer a period)."""
    days, _ = parse_deadline(text, None)
    return [day.year for day in days]


# A school year, or a list of them sharing the words: "на 2023-2024 и 2024-2025 учебные годы".
_PERIOD_SCHOOL_YEARS = re.compile(
    rf"(?P<list>(?:(?<![\d.]){_YEAR}\s*[-/]\s*(?:{_YEAR}|\d{{2}})\s*(?:,|и)\s*)*){_SCHOOL_YEARS}"
)
_PERIOD_SCHOOL_YEARS_AFTER = re.compile(
    rf"(?:учебн[а-я]*|уч\.)\s*год[а-я]*\s*(?P<sy1>{_YEAR})\s*[-/]\s*(?P<sy2>{_YEAR}|\d{{2}})(?![\d.])"
)


def find_period(text: str) -> Period | None:
    """Period stated in a title: "на 2022-2024 гг.", "2023/2024 учебный год", "на 2023 год"."""
    normalized = normalize_phrase(text)
    school = _PERIOD_SCHOOL_YEARS.search(normalized) or _PERIOD_SCHOOL_YEARS_AFTER.search(normalized)
    span = _school_span(school["sy1"], school["sy2"]) if school else None
    if school and span:
        listed = school.groupdict().get("list") or ""
        first = min([span[0], *(int(year) for year in re.findall(rf"({_YEAR})\s*[-/]", listed))])
        # Several school years ("2022-2024 учебные годы") run to the end of the last one.
        return Period(date(first, 9, 1), date(span[1], 8, 31))
    ranges = list(
        re.finditer(
            rf"(?<![\d.])(?P<y1>{_YEAR})\s*(?:гг?\.?|года?)?\s*(?:-|/|по)\s*(?P<y2>{_YEAR})(?![\d.])",
            normalized,
        )
    )
    if ranges:
        first, last = int(ranges[-1]["y1"]), int(ranges[-1]["y2"])
        if first <= last:
            return Period(date(first, 1, 1), date(last, 12, 31))
    single = list(re.finditer(rf"(?<![\d.])(?P<y>{_YEAR})\s*(?:год\w*|гг?\.?)(?![а-я])", normalized))
    if single:
        year = int(single[-1]["y"])
        return Period(date(year, 1, 1), date(year, 12, 31))
    return None
