"""The portal's Jinja environment: where templates live (``templates/``), and the filters and
words every page shares (dates, numbers, the Russian names of roles and kinds, the menu).

A page group registers its own words (statuses, kinds of meeting, …) beside its routes, with
``templates.env.globals.update(...)``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from services.portal import auth, navigation
from services.portal.charts import number
from shared.localtime import format_date
from shared.titles import CATEGORY_TITLES, form_title

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.globals.update(role_titles=auth.ROLE_TITLES, number=number, menu=navigation.menu,
                             links_to_bases=navigation.links_to_bases)

KIND_TITLES = {"region": "регион", "municipality": "муниципалитет", "school": "школа",
               "college": "колледж", "employer": "предприятие", "university": "вуз",
               "additional": "организация доп. образования", "partner": "партнёр"}
CONSENT_TITLES = {"self": "дано лично", "guardian": "дано законным представителем"}
templates.env.globals.update(kind_titles=KIND_TITLES, category_titles=CATEGORY_TITLES,
                             consent_titles=CONSENT_TITLES)


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian word form for ``n``: «1 встреча», «2 встречи», «5 встреч»."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def ru_date(value: str | None) -> str:
    """``2025-10-01`` as Russians write it: ``01.10.2025``; a timestamp (UTC) by its date in the
    region's time zone (``shared.localtime``)."""
    if not value:
        return "—"
    try:
        return format_date(str(value))
    except ValueError:
        return str(value)


def order_phrase(reference: str) -> str:
    """«приказ № 36-н» for a pair's order, however the curator typed it: «36-н», «№ 36-н» or the
    whole «Приказ № 36-н от 24.09.2025» (never «приказ Приказ …»)."""
    reference = reference.strip()
    return reference if reference.lower().startswith("приказ") else f"приказ {reference}"


templates.env.filters["ru_date"] = ru_date
templates.env.filters["order_phrase"] = order_phrase

templates.env.filters["form_title"] = form_title
