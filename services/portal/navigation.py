"""What the portal shows each role: the main menu, the page a user starts on, the links a page
offers. The one place in the portal that looks at a user's role; templates and page modules ask
here instead.

This only shapes the way through the pages. What a user may read or change is decided by the
services behind the API (``shared/auth.py``'s policy): a link left out here is a convenience, a
typed address still gets the service's refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import Actor, Role


@dataclass(frozen=True)
class MenuItem:
    href: str
    title: str
    roles: frozenset[Role]


#: The main menu (base.html), in its order, with the roles that see each entry.
MENU: tuple[MenuItem, ...] = (
    MenuItem("/", "Что сделать", frozenset({Role.CURATOR})),
    MenuItem("/my", "Мои пары", frozenset({Role.PARTICIPANT})),
    MenuItem("/bases", "Базы участников", frozenset({Role.CURATOR})),
    MenuItem("/surveys", "Анкетирование", frozenset({Role.CURATOR})),
    MenuItem("/dashboard", "Мониторинг",
             frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})),
    MenuItem("/reports", "Отчётность",
             frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})),
    MenuItem("/auditor", "Аудит", frozenset({Role.AUDITOR, Role.REGIONAL})),
    # The officials' own work (issue 21): their roadmap, their territory's documents, the bank.
    MenuItem("/roadmap", "Дорожная карта", frozenset({Role.MUNICIPAL, Role.REGIONAL})),
    MenuItem("/territory/documents", "Документы", frozenset({Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})),
    MenuItem("/practices", "Лучшие практики",
             frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})),
    MenuItem("/nominations", "Наставник года",
             frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})),
    MenuItem("/training", "Школа наставников",
             frozenset({Role.PARTICIPANT, Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL})),
    MenuItem("/forms", "Формы наставничества", frozenset({Role.REGIONAL})),
)


def menu(actor: Actor) -> list[MenuItem]:
    return [item for item in MENU if actor.role in item.roles]


def works_in_own_organisation(actor: Actor) -> bool:
    """A curator works in one organisation: «/» (its worklist), «/bases», «/surveys» and
    «/reports» lead to its pages."""
    return actor.role is Role.CURATOR


def start_page(actor: Actor) -> str:
    """Where «/» leads those who do not work in one organisation of their own."""
    if actor.role is Role.PARTICIPANT:
        return "/my"
    return "/auditor" if actor.role is Role.AUDITOR else "/dashboard"


def issues_invitations(actor: Actor) -> bool:
    """A person's card offers the curator of their organisation an invitation code to sign in."""
    return actor.role is Role.CURATOR


def links_to_bases(actor: Actor) -> bool:
    """Whether an organisation's dashboard links to its bases of mentors and mentees (an auditor
    follows records through the audit trail instead)."""
    return actor.role is not Role.AUDITOR


def reviews_practices(actor: Actor) -> bool:
    """Municipalities and the region review what the level beneath puts forward for the bank."""
    return actor.role in (Role.MUNICIPAL, Role.REGIONAL)


def submits_practices(actor: Actor) -> bool:
    """A school's (college's) curator puts its practice forward for the bank."""
    return actor.role is Role.CURATOR


def issues_awards(actor: Actor) -> bool:
    """Award orders and thanks letters are issued by an organisation, a municipality or the region."""
    return actor.role in (Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL)


def nominates_mentors(actor: Actor) -> bool:
    """«Наставник года»: a school's (college's) curator nominates its mentors."""
    return actor.role is Role.CURATOR


def judges_stage(actor: Actor) -> str | None:
    """The stage of «Наставник года» the user judges: the municipality's or the region's."""
    return {Role.MUNICIPAL: "municipality", Role.REGIONAL: "region"}.get(actor.role)


def publishes_training(actor: Actor) -> bool:
    """«Школа наставников»: a municipality or the region publishes the materials."""
    return actor.role in (Role.MUNICIPAL, Role.REGIONAL)


def completes_training(actor: Actor) -> bool:
    """A mentor, signed in as a participant, marks a material completed."""
    return actor.role is Role.PARTICIPANT


def confirms_training(actor: Actor) -> bool:
    """The curator of the mentor's organisation confirms the completion."""
    return actor.role is Role.CURATOR


def configures_calendar(actor: Actor) -> bool:
    """The reporting calendar is configured by the region's operator."""
    return actor.role is Role.REGIONAL and actor.scope.municipality is None
