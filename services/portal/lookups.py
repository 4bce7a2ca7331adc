"""What several page groups ask: the user's own organisation (and the way to it), the names of
an organisation's people, the territory or organisation an address names, today's date and
school year."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from starlette.responses import RedirectResponse, Response

from services.portal import navigation
from services.portal.client import ApiError
from services.portal.frame import Session
from shared.auth import Actor, OrgPath
from shared.errors import DomainError
from shared.localtime import local_today


async def own_organisation(s: Session) -> dict[str, Any]:
    for org in await s.api.get("/registry/organisations"):
        if org["path"] == str(s.actor.scope):
            return dict(org)
    raise DomainError("ORGANISATION_NOT_FOUND", "Ваша организация ещё не зарегистрирована", 404)


async def to_own_organisation(s: Session, page: str = "") -> Response:
    """A menu entry that opens a page of the user's own organisation (``page``: what follows its
    address); a user who works above one organisation goes to the dashboard instead."""
    if not navigation.works_in_own_organisation(s.actor):
        return RedirectResponse("/dashboard", status_code=303)
    own = await own_organisation(s)
    return RedirectResponse(f"/organisations/{own['id']}{page}", status_code=303)


#: Why an official sees labels instead of children's names (shown beside every such list).
NAMES_HIDDEN_NOTE = "Имена скрыты: 152-ФЗ, ст. 5 — минимизация"


def person_label(person: dict[str, Any]) -> str:
    """What the page calls a person: their name; for a reader the registry shows no names to
    (an official above the school, 152-ФЗ, ст. 5), their pseudonymous label, or for an auditor
    the record's id; once their consent is withdrawn and the name erased, a label that still
    tells the records apart: role, grade and a short stable code of the record."""
    if person.get("full_name"):
        return str(person["full_name"])
    if person.get("names_hidden"):
        return str(person.get("label") or f"Запись {person['id']}")
    role = "Наставник" if person.get("role") == "mentor" else "Наставляемый"
    grade = f", {person['grade']} класс" if person.get("grade") else ""
    return f"{role}{grade}, запись {str(person['id'])[:8]} (данные удалены)"


class Names(dict[str, str]):
    """Person id → what the page calls them; ``hidden``: some are labels, not names."""

    hidden: bool = False


async def names_of(s: Session, organisation_id: UUID | str) -> Names:
    """Names come from the registry, the only place that holds them, with the user's token —
    and as the registry decides for that user: names, or labels for an official."""
    people = await s.api.get(f"/registry/organisations/{organisation_id}/people")
    names = Names({p["id"]: person_label(p) if p.get("names_hidden")
                   else p["full_name"] or "данные удалены" for p in people})
    names.hidden = any(p.get("names_hidden") for p in people)
    return names


#: A pair in these states was confirmed: its mentor from another organisation may be named.
CONFIRMED = ("active", "completed", "dissolved")


async def name_paired_mentors(s: Session, pairs: Iterable[dict[str, Any]], names: Names) -> None:
    """Adds to ``names`` each confirmed pair's mentor from another organisation, with that
    organisation («Иванов Иван Иванович, ООО «Завод»»), as the registry lets this user see them
    (the pair grants sight to its curators); a proposal not yet confirmed stays unnamed."""
    wanted = [p["id"] for p in pairs if p.get("cross_organisation")
              and p["status"] in CONFIRMED and p["mentor_id"] not in names]
    if not wanted:
        return
    try:
        found = await asyncio.gather(*(
            s.api.get("/registry/paired-mentors", pair_id=wanted[i:i + PAIRED_CHUNK])
            for i in range(0, len(wanted), PAIRED_CHUNK)))
    except ApiError as exc:
        if exc.status < 500:
            raise
        return  # the pairing service down: the page still opens, those mentors unnamed
    for part in found:
        for mentor in part["pairs"].values():
            names[mentor["mentor_id"]] = f"{mentor['full_name']} ({mentor['organisation_name']})"


#: Pairs asked about in one request (the registry takes up to 200).
PAIRED_CHUNK = 100


def parse_scope(org: str | None, actor: Actor) -> str:
    if not org:
        return str(actor.scope)
    try:
        path = OrgPath.parse(org)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc
    actor.require_read(path)
    return str(path)


def date_today() -> str:
    """Today in the region's time zone (``shared.localtime``), as ISO text."""
    return local_today().isoformat()



def current_school_year(today: datetime.date) -> str:
    """The school year (01.09–31.08) a date falls in: «2026-2027» from September 2026."""
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}-{start + 1}"
