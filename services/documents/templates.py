"""The documents a programme issues, as pure builders: plain data in, DOCX bytes out.

Names reach these functions only from the caller (who read them from the registry for an
authorised user); nothing here stores or looks anything up.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

from services.documents.render import Requisites, Sheet, format_date, short_name
from shared import figures as figures_fmt

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DocumentKind = Literal["pairs_order", "curator_order", "award_order", "thanks_letter", "consent",
                       "report", "development_plan"]
KINDS: tuple[str, ...] = ("pairs_order", "curator_order", "award_order", "thanks_letter", "consent",
                          "report", "development_plan")
#: Suffix of the registration number: each kind is numbered in its own series ("12-н").
NUMBER_SUFFIX: dict[str, str] = {
    "pairs_order": "н", "curator_order": "к", "award_order": "п", "thanks_letter": "бп",
    "consent": "спд", "report": "о", "development_plan": "ипр",
}
KIND_TITLES: dict[str, str] = {
    "pairs_order": "Приказ об утверждении наставнических пар/групп",
    "curator_order": "Приказ о назначении куратора",
    "award_order": "Приказ о поощрении наставников",
    "thanks_letter": "Благодарственное письмо",
    "consent": "Согласие на обработку персональных данных",
    "report": "Информационно-аналитический отчёт",
    "development_plan": "Персонализированная программа наставничества",
}
LEVEL_TITLES: dict[str, str] = {
    "organisation": "образовательной организации",
    "municipality": "муниципального образования",
    "region": "субъекта Российской Федерации",
}


def number_for(kind: str, sequence: int) -> str:
    return f"{sequence}-{NUMBER_SUFFIX[kind]}"


# --- приказ «Об утверждении наставнических пар/групп» -------------------------------------------

@dataclass(frozen=True)
class PairRow:
    mentor: str
    mentees: Sequence[str]
    form: str


def pairs_order(requisites: Requisites, pairs: Sequence[PairRow], school_year: str,
                basis: str = "") -> bytes:
    sheet = Sheet()
    sheet.header(requisites, "ПРИКАЗ")
    sheet.title("Об утверждении наставнических пар/групп")
    sheet.paragraph(
        basis or "В соответствии с Положением о программе наставничества и дорожной картой "
        "внедрения целевой модели наставничества, по итогам сравнения анкет участников и "
        "организационной встречи наставников и наставляемых")
    sheet.paragraph("ПРИКАЗЫВАЮ:")
    sheet.paragraph(f"1. Утвердить наставнические пары/группы на {school_year} учебный год "
                    "согласно таблице:")
    sheet.table(["№", "Наставник", "Наставляемый(е)", "Форма наставничества"],
                [[str(i), p.mentor, "\n".join(p.mentees), p.form] for i, p in enumerate(pairs, 1)],
                widths=[1.2, 5.0, 5.5, 4.8])
    sheet.paragraph("2. Наставникам организовать работу пар/групп в соответствии с "
                    "индивидуальными планами развития.")
    sheet.paragraph("3. Контроль за исполнением настоящего приказа оставляю за собой.")
    sheet.signature(requisites.signatory)
    return sheet.to_bytes()


# --- приказ о назначении куратора ------------------------------------------------------------------

def curator_order(requisites: Requisites, curator_name: str, curator_position: str,
                  school_year: str, forms: Sequence[str] = ()) -> bytes:
    sheet = Sheet()
    sheet.header(requisites, "ПРИКАЗ")
    sheet.title("О назначении куратора внедрения целевой модели наставничества")
    sheet.paragraph("В целях реализации целевой модели наставничества (распоряжение "
                    "Минпросвещения России от 25.12.2019 № Р-145)")
    sheet.paragraph("ПРИКАЗЫВАЮ:")
    sheet.paragraph(f"1. Назначить куратором внедрения целевой модели наставничества на "
                    f"{school_year} учебный год {curator_position} {curator_name}.")
    if forms:
        sheet.paragraph("2. Куратору организовать реализацию программы наставничества по формам: "
                        + "; ".join(f"«{f}»" for f in forms) + ".")
    sheet.paragraph(f"{3 if forms else 2}. Контроль за исполнением настоящего приказа оставляю "
                    "за собой.")
    sheet.signature(requisites.signatory)
    sheet.signature_line("С приказом ознакомлен(а):", curator_name)
    return sheet.to_bytes()


# --- приказ о поощрении наставников ------------------------------------------------------------

@dataclass(frozen=True)
class AwardRow:
    mentor: str
    merit: str
    award: str = "объявить благодарность"


def award_order(requisites: Requisites, awards: Sequence[AwardRow], school_year: str) -> bytes:
    sheet = Sheet()
    sheet.header(requisites, "ПРИКАЗ")
    sheet.title("О поощрении наставников")
    sheet.paragraph(f"По итогам реализации программы наставничества в {school_year} учебном году, "
                    "за высокие результаты работы с наставляемыми")
    sheet.paragraph("ПРИКАЗЫВАЮ:")
    sheet.paragraph("1. Поощрить наставников согласно таблице:")
    sheet.table(["№", "Наставник", "Основание", "Вид поощрения"],
                [[str(i), a.mentor, a.merit, a.award] for i, a in enumerate(awards, 1)],
                widths=[1.2, 5.0, 6.0, 4.3])
    sheet.paragraph("2. Контроль за исполнением настоящего приказа оставляю за собой.")
    sheet.signature(requisites.signatory)
    return sheet.to_bytes()


# --- персонализированная программа наставничества (индивидуальный план развития) -------------

GOAL_STATUSES: dict[str, str] = {"planned": "запланирована", "in_progress": "в работе",
                                 "done": "достигнута", "dropped": "снята"}


@dataclass(frozen=True)
class PlanGoalRow:
    title: str
    due: date | None
    status: str


@dataclass(frozen=True)
class Member:
    """A member of the pair as printed; ``pseudonymous``: the reader sees only the label."""

    role: str
    name: str
    pseudonymous: bool = False


def development_plan(requisites: Requisites, members: Sequence[Member], form: str,
                     school_year: str, formed_on: date | None,
                     goals: Sequence[PlanGoalRow]) -> bytes:
    sheet = Sheet()
    sheet.header(requisites, "ПЕРСОНАЛИЗИРОВАННАЯ ПРОГРАММА НАСТАВНИЧЕСТВА")
    sheet.title("Индивидуальный план развития наставнической пары/группы")
    sheet.paragraph(f"Организация: {requisites.organisation_name}.")
    for member in members:
        sheet.paragraph(f"{member.role}: {member.name}.")
    sheet.paragraph(f"Форма наставничества: «{form}».")
    since = f", с {format_date(formed_on)}" if formed_on else ""
    sheet.paragraph(f"Период реализации: {school_year} учебный год{since}.")
    sheet.paragraph("Цели и задачи развития:")
    if goals:
        sheet.table(["№", "Цель", "Срок", "Статус"],
                    [[str(i), g.title, format_date(g.due) if g.due else "—",
                      GOAL_STATUSES.get(g.status, g.status)] for i, g in enumerate(goals, 1)],
                    widths=[1.0, 8.2, 3.3, 4.0])
    else:
        sheet.paragraph("Цели ещё не поставлены.")
    sheet.signature(requisites.signatory)
    for member in members:
        if member.pseudonymous:  # a label is not a name to sign under
            sheet.paragraph(f"{member.role} ({member.name}): ____________")
        else:
            sheet.signature_line(f"{member.role}:", member.name)
    return sheet.to_bytes()


# --- благодарственное письмо -----------------------------------------------------------------------

def thanks_letter(requisites: Requisites, addressee: str, text: str,
                  salutation: str | None = None) -> bytes:
    """``salutation`` is «Уважаемая Анна Сергеевна!»; by default it is built from the full name."""
    sheet = Sheet()
    sheet.header(requisites, "БЛАГОДАРСТВЕННОЕ ПИСЬМО")
    sheet.centered(salutation or default_salutation(addressee), bold=True, space_after=12)
    sheet.paragraph(text)
    sheet.paragraph(f"Адресат: {addressee}.")
    sheet.signature(requisites.signatory)
    return sheet.to_bytes()


def default_salutation(full_name: str) -> str:
    parts = full_name.split()
    if len(parts) >= 3:
        # Russian patronymics tell the gender: -вна/-чна/-кызы are female.
        female = parts[2].endswith(("вна", "чна", "кызы"))
        return f"{'Уважаемая' if female else 'Уважаемый'} {parts[1]} {parts[2]}!"
    return f"Уважаемый(ая) {full_name}!"


# --- согласие на обработку персональных данных ------------------------------------------------

@dataclass(frozen=True)
class ConsentSubject:
    full_name: str
    birth_date: date
    guardian_name: str | None = None


def consent(requisites: Requisites, subject: ConsentSubject) -> bytes:
    """The person's own consent, or a legal guardian's for a minor when ``guardian_name`` is set."""
    sheet = Sheet()
    sheet.header(requisites, None)
    sheet.centered("СОГЛАСИЕ", bold=True, space_after=0)
    sheet.centered("на обработку персональных данных", bold=True, space_after=12)
    born = format_date(subject.birth_date)
    if subject.guardian_name:
        signer = subject.guardian_name
        sheet.paragraph(
            f"Я, {subject.guardian_name}, паспорт серия ______ № __________, выдан "
            "______________________________, являясь законным представителем "
            f"несовершеннолетнего(ей) {subject.full_name}, {born} г. р., в соответствии со "
            "статьями 9 и 10 Федерального закона от 27.07.2006 № 152-ФЗ «О персональных данных» "
            f"даю согласие {requisites.organisation_name} на обработку персональных данных "
            "моего ребёнка (фамилия, имя, отчество, дата рождения, класс, сведения об участии в "
            "программе наставничества) в целях реализации программы наставничества.")
    else:
        signer = subject.full_name
        sheet.paragraph(
            f"Я, {subject.full_name}, {born} г. р., паспорт серия ______ № __________, выдан "
            "______________________________, в соответствии со статьёй 9 Федерального закона "
            "от 27.07.2006 № 152-ФЗ «О персональных данных» даю согласие "
            f"{requisites.organisation_name} на обработку моих персональных данных (фамилия, "
            "имя, отчество, дата рождения, контактные данные, сведения об участии в программе "
            "наставничества) в целях реализации программы наставничества.")
    sheet.paragraph("Согласие даётся на срок реализации программы наставничества и может быть "
                    "отозвано мной в любое время на основании письменного заявления.")
    sheet.signature_line("Подпись:", signer)
    return sheet.to_bytes()


# --- информационно-аналитический отчёт ----------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    """One row of the indicator table. ``shown`` prints the value as its source gave it (the
    monitoring dashboard's «66,7 %», «<5» for a small group, «—» without data); with a numerator
    or a denominator the table gets those columns too."""

    name: str
    value: float | None
    unit: str = "%"
    target: float | None = None
    numerator: int | str | None = None
    denominator: int | str | None = None
    shown: str | None = None
    target_shown: str | None = None
    #: «6 из 5», as the dashboard wrote it: numerator and denominator in one narrow column.
    calculation: str | None = None

    def value_text(self) -> str:
        if self.shown is not None:
            return self.shown
        return "—" if self.value is None else f"{format_number(self.value)} {self.unit}".strip()

    def target_text(self) -> str:
        if self.target_shown is not None:
            return self.target_shown
        return "—" if self.target is None else f"{format_number(self.target)} {self.unit}".strip()


@dataclass(frozen=True)
class BreakdownRow:
    """A unit under the reporting one; ``satisfaction`` is a mean (1–10) or its printed form."""

    name: str
    mentors: int
    mentees: int
    pairs: int
    satisfaction: float | str | None = None

    def satisfaction_text(self) -> str:
        if isinstance(self.satisfaction, str):
            return self.satisfaction
        return "—" if self.satisfaction is None else format_number(self.satisfaction)


@dataclass(frozen=True)
class ReportContent:
    """``totals`` is the reporting unit's own row; without it the rows are summed."""

    level: Literal["organisation", "municipality", "region"]
    territory: str
    period: str
    indicators: Sequence[Indicator]
    breakdown: Sequence[BreakdownRow] = ()
    conclusions: Sequence[str] = field(default_factory=tuple)
    totals: BreakdownRow | None = None
    satisfaction_title: str = "Удовлетворённость (1–10)"
    unit_title: str = "Организация"
    units_in: str = "по организациям"
    #: The unit's named figures (label, text as the one formatter wrote it): section 2's rows.
    figures: Sequence[tuple[str, str]] = ()
    #: What a hidden or missing value means, printed under the tables.
    note: str | None = None


def format_number(value: float) -> str:
    """«12», «12,5»: the one formatter's Russian number (shared/figures.py)."""
    return figures_fmt.number(value, 0 if float(value).is_integer() else 1)


def _indicator_table(sheet: Sheet, indicators: Sequence[Indicator]) -> None:
    if any(i.calculation is not None for i in indicators):
        # The value column is wide enough for the longest text the formatter writes
        # («нет данных: контингент нужно обновить») to wrap between words, not inside them.
        sheet.table(["№", "Показатель", "Значение", "Целевое значение", "Расчёт"],
                    [[str(n), i.name, i.value_text(), i.target_text(), i.calculation or "—"]
                     for n, i in enumerate(indicators, 1)],
                    widths=[0.8, 6.6, 4.0, 2.8, 2.3])
        return
    if any(i.numerator is not None or i.denominator is not None for i in indicators):
        sheet.table(["№", "Показатель", "Числитель", "Знаменатель", "Значение", "Целевое значение"],
                    [[str(n), i.name, "—" if i.numerator is None else str(i.numerator),
                      "—" if i.denominator is None else str(i.denominator), i.value_text(),
                      i.target_text()] for n, i in enumerate(indicators, 1)],
                    widths=[0.8, 5.4, 2.7, 3.0, 2.3, 2.3])
        return
    sheet.table(["№", "Показатель", "Значение", "Целевое значение"],
                [[str(n), i.name, i.value_text(), i.target_text()]
                 for n, i in enumerate(indicators, 1)],
                widths=[1.2, 8.8, 3.0, 3.5])


def analytic_report(requisites: Requisites, report: ReportContent) -> bytes:
    sheet = Sheet()
    sheet.header(requisites, None)
    sheet.centered("ИНФОРМАЦИОННО-АНАЛИТИЧЕСКИЙ ОТЧЁТ", bold=True, space_after=0)
    sheet.centered(f"о реализации целевой модели наставничества {LEVEL_TITLES[report.level]}",
                   bold=True, space_after=0)
    sheet.centered(f"{report.territory} за {report.period}", bold=True, space_after=12)
    sheet.heading("1. Показатели внедрения целевой модели наставничества")
    _indicator_table(sheet, report.indicators)
    if report.indicators:
        sheet.picture(indicator_chart(report.indicators),
                      caption="Рисунок 1. Показатели в сравнении с целевыми значениями")
    if report.figures or report.breakdown or report.totals is not None:
        sheet.heading("2. Участники программы наставничества")
    if report.figures:
        sheet.table(["№", "Показатель", "Значение"],
                    [[str(n), label, text] for n, (label, text) in enumerate(report.figures, 1)],
                    widths=[1.2, 11.0, 4.3])
    if report.breakdown or (report.totals is not None and not report.figures):
        if report.figures:
            sheet.paragraph(f"Участники {report.units_in}:")
        rows = [[str(i), r.name, format_number(r.mentors), format_number(r.mentees),
                 format_number(r.pairs), r.satisfaction_text()]
                for i, r in enumerate(report.breakdown, 1)]
        totals = report.totals
        if totals is None:
            rows.append(["", "Итого", format_number(sum(r.mentors for r in report.breakdown)),
                         format_number(sum(r.mentees for r in report.breakdown)),
                         format_number(sum(r.pairs for r in report.breakdown)), ""])
        else:
            rows.append(["", totals.name, format_number(totals.mentors),
                         format_number(totals.mentees), format_number(totals.pairs),
                         totals.satisfaction_text()])
        sheet.table(["№", report.unit_title, "Наставники", "Наставляемые",
                     "Пары и группы: сформированы всего", report.satisfaction_title],
                    rows, widths=[0.8, 3.6, 2.9, 3.3, 2.3, 3.6])
        if report.breakdown:
            sheet.picture(breakdown_chart(report.breakdown),
                          caption=f"Рисунок 2. Наставнические пары/группы {report.units_in}")
    if report.note:
        sheet.paragraph(report.note)
    if report.conclusions:
        sheet.heading("3. Выводы и предложения")
        for text in report.conclusions:
            sheet.paragraph(text)
    sheet.signature(requisites.signatory)
    return sheet.to_bytes()


def _figure_png(draw: Callable[[Axes], None]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        # No software/date metadata: the same figures give the same bytes.
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)


def _label(text: str, width: int = 18) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def indicator_chart(indicators: Sequence[Indicator]) -> bytes:
    def draw(axes: Axes) -> None:
        names = [_label(i.name) for i in indicators]
        positions = range(len(indicators))
        axes.bar(positions, [i.value or 0 for i in indicators], color="#3b6ea5",
                 label="Значение")
        targets = [(p, i.target) for p, i in zip(positions, indicators, strict=True)
                   if i.target is not None]
        if targets:
            axes.scatter([p for p, _ in targets], [t for _, t in targets], color="#c0392b",
                         marker="_", s=900, linewidths=3, label="Цель", zorder=3)
        axes.set_xticks(list(positions), names, fontsize=8)
        axes.legend(fontsize=8)

    return _figure_png(draw)


def breakdown_chart(rows: Sequence[BreakdownRow]) -> bytes:
    def draw(axes: Axes) -> None:
        positions = range(len(rows))
        axes.bar(positions, [r.pairs for r in rows], color="#2e8b57")
        axes.set_xticks(list(positions), [_label(r.name) for r in rows], fontsize=8)
        axes.set_ylabel("Пары/группы", fontsize=9)

    return _figure_png(draw)


__all__ = [
    "GOAL_STATUSES", "KINDS", "KIND_TITLES", "AwardRow", "BreakdownRow", "ConsentSubject",
    "DocumentKind", "Indicator", "Member", "PairRow", "PlanGoalRow", "ReportContent",
    "analytic_report", "award_order", "consent", "curator_order", "development_plan",
    "number_for", "pairs_order", "short_name", "thanks_letter",
]
