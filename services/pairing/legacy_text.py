"""Free text stored in the clear before sealing existed, erased when a member withdraws consent.

Since ``vault`` seals every text about a pair, destroying a member's key makes it unreadable.
Events stored before carry a goal's wording, feedback answers or a curator's reason in the
clear (``title``, ``went_well``, ``to_change``, ``reason``): readers already show
``TEXT_REMOVED`` for them once a member withdrew, and here the stored text itself is replaced
(``shared.event_erasure``), in every pair the person was ever in, active or ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import Application

from services.pairing import views
from services.pairing.domain import CONSENT_REASON
from services.pairing.vault import TEXT_REMOVED, person_keys
from shared.event_erasure import rewrite_events
from shared.logging import get_logger

log = get_logger(__name__)

#: The fields of each stored event that held free text in the clear before sealing.
LEGACY_TEXT: dict[str, tuple[str, ...]] = {
    "PlanGoalSet": ("title",),
    "FeedbackSubmitted": ("went_well", "to_change"),
    "PairDissolved": ("reason",),
    "PairProposalDeclined": ("reason",),
}
#: The system's own words, naming nobody: kept.
SYSTEM_TEXT = frozenset({CONSENT_REASON, TEXT_REMOVED})


def without_legacy_text(name: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """The event's state with its clear free text replaced, or None when it holds none."""
    fields = [f for f in LEGACY_TEXT.get(name, ()) if state.get(f) and state[f] not in SYSTEM_TEXT]
    if not fields:
        return None
    return {**state, **dict.fromkeys(fields, TEXT_REMOVED)}


def pairs_of(conn: sa.Connection, people: Iterable[UUID]) -> list[UUID]:
    """Every pair the people were ever in, as mentor or mentee, whatever its status."""
    people = list(people)
    as_mentee = sa.select(views.pair_mentees.c.pair_id).where(views.pair_mentees.c.mentee_id.in_(people))
    return list(conn.execute(sa.select(views.pairs.c.id).where(
        sa.or_(views.pairs.c.mentor_id.in_(people), views.pairs.c.id.in_(as_mentee)))).scalars())


def erase_legacy_text(events: Application[UUID], engine: sa.Engine, people: Iterable[UUID]) -> int:
    """Replace the clear free text in the stored events of every pair of ``people``; the number
    of events rewritten. Idempotent."""
    with engine.connect() as conn:
        pair_ids = pairs_of(conn, people)
    rewritten = rewrite_events(events, pair_ids, without_legacy_text)
    if rewritten:
        log.info("pairing.legacy_text_erased", pairs=len(pair_ids), events=rewritten)
    return rewritten


def erase_legacy_text_of_withdrawn(events: Application[UUID], engine: sa.Engine) -> int:
    """The same for everyone who withdrew so far (their key is a tombstone): what withdrew before
    this erasure existed is caught up on the service's start."""
    with engine.connect() as conn:
        withdrawn = list(conn.execute(sa.select(person_keys.c.person_id)
                                      .where(person_keys.c.wrapped_key.is_(None))).scalars())
    return erase_legacy_text(events, engine, withdrawn) if withdrawn else 0
