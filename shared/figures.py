"""The one formatter of figures: how every view (dashboard JSON, portal pages and charts, XLSX,
DOCX/PDF reports) writes a number a user reads.

One rule each, so an official comparing the screen, the spreadsheet and the report reads the same
text: Russian number format (a narrow no-break space between thousands, a decimal comma), shares
in per cent with one decimal rounded half up from the exact fraction, «—» where the denominator is
0, a data problem instead of a share above 100 %, and one text for a cell hidden because its
group is small. No I/O here; services format through these functions only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

#: Where there is nothing to compute (the denominator is 0, nobody answered).
NO_DATA = "—"
#: A numerator above its denominator: more participants than the declared contingent.
CONTINGENT_STALE = "нет данных: контингент нужно обновить"
THOUSANDS = "\u202f"
#: Decimals of a share in per cent and of a mean score: one rule for every view.
PERCENT_DECIMALS = 1
MEAN_DECIMALS = 1


def hidden(min_group: int) -> str:
    """The text of a cell hidden so that no figure describes fewer than ``min_group`` people."""
    return f"скрыто: менее {min_group} чел."


def _rounded(value: Decimal | Fraction | int | float, decimals: int) -> Decimal:
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(str(value))
    return exact.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def number(value: Decimal | Fraction | int | float, decimals: int = 0) -> str:
    """«1 234», «12,5»: an integer as it is, otherwise ``decimals`` places rounded half up."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and decimals == 0):
        text = f"{int(value):,}"
    else:
        rounded = _rounded(value, decimals)
        text = f"{rounded:,.{decimals}f}"
    return text.replace(",", THOUSANDS).replace(".", ",")


def count(value: int | float | None) -> str:
    """A count of people, pairs or meetings."""
    return NO_DATA if value is None else number(int(value))


def percent(fraction: Decimal | Fraction | float) -> str:
    """A fraction (0.7) in per cent: «70,0 %»."""
    return f"{number(Fraction(str(fraction)) * 100, PERCENT_DECIMALS)} %"


def share(numerator: int | None, denominator: int | None, *, suppressed: bool = False,
          min_group: int = 5) -> str:
    """A share of a numerator over its denominator, as every view shows it."""
    if suppressed:
        return hidden(min_group)
    if numerator is None or not denominator:
        return NO_DATA
    if numerator > denominator:
        return CONTINGENT_STALE
    return f"{number(Fraction(numerator, denominator) * 100, PERCENT_DECIMALS)} %"


def target(fraction: float | None) -> str:
    return NO_DATA if fraction is None else percent(fraction)


def met(value: bool | None) -> str:
    """Whether a target is met: «—» when the share is unknown (0/0, hidden, stale)."""
    return NO_DATA if value is None else ("да" if value else "нет")


def mean(total: float, n: int, *, suppressed: bool = False, min_group: int = 5) -> str:
    """A mean score of ``n`` answers."""
    if suppressed:
        return hidden(min_group)
    if n <= 0:
        return NO_DATA
    return number(Fraction(str(total)) / n, MEAN_DECIMALS)


def ratio(numerator: float, denominator: float) -> str:
    """Meetings per pair and the like: one decimal."""
    if not denominator:
        return NO_DATA
    return number(Fraction(str(numerator)) / Fraction(str(denominator)), MEAN_DECIMALS)
