"""Request/reply over NATS: which pairs (groups) exist, for a service that prints them.

The documents service issues the order «Об утверждении наставнических пар/групп»; it must list
only pairs the pairing service formed, with the mentor, mentees and form it formed them with.
It forwards the acting user's token, and the answer is scoped exactly as
``GET /pairing/pairs/{pair_id}`` is: a participant sees only their own pairs, anyone else the
pairs of their scope; a pair outside that reach is ``missing``, as if it did not exist.

Request:  ``{"token": str, "pair_ids": [uuid, ...]}``
Reply:    ``{"pairs": {id: {"status", "organisation_id", "path", "form", "form_title",
          "mentor_id", "mentee_ids"}}, "missing": [id, ...]}``
          or ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.logging import get_logger
from shared.tokens import actor_from_token

if TYPE_CHECKING:
    from services.pairing.application import PairingService

log = get_logger(__name__)

PAIRS_SUBJECT = "nastavnik.rpc.pairing.pairs"
PAIRS_QUEUE = "pairing-pairs"
#: As many as one order may list.
MAX_PAIRS = 2000


def _error(exc: DomainError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}


def _request_ids(request: dict[str, Any]) -> list[UUID]:
    raw = request.get("pair_ids")
    if not isinstance(raw, list) or len(raw) > MAX_PAIRS:
        raise DomainError("INVALID_REQUEST", "Нужен список идентификаторов пар (не более "
                          f"{MAX_PAIRS})", 422)
    try:
        return list(dict.fromkeys(UUID(str(i)) for i in raw))
    except ValueError:
        raise DomainError("INVALID_REQUEST", "Неверный идентификатор пары", 422) from None


def _readable(actor: Actor, row: sa.Row[Any], mentee_ids: list[UUID]) -> bool:
    """The rule of ``PairingService._pair_for_reading``: membership for a participant (their
    token names them by registry id), the scope for everyone else."""
    if actor.role is Role.PARTICIPANT:
        try:
            viewer = UUID(actor.user)
        except ValueError:
            return False
        return viewer == row.mentor_id or viewer in mentee_ids
    return actor.can_read(OrgPath.parse(row.path))


def answer_pairs(service: PairingService, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (blocking: reads the pairing's view)."""
    # Imported here so a caller importing only the subject does not load the matching core.
    from services.pairing import views
    from services.pairing.pools import PAIRING_FORMS

    try:
        actor = actor_from_token(str(request.get("token", "")), service.settings.signing_secret)
        ids = _request_ids(request)
    except DomainError as exc:
        return _error(exc)
    with service.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(views.pairs)
                                              .where(views.pairs.c.id.in_(ids)))} if ids else {}
        members: dict[UUID, list[UUID]] = defaultdict(list)
        if rows:
            # Every mentee the pair was formed with (a dissolved pair keeps its rows, inactive).
            for pair_id, mentee_id in conn.execute(
                    sa.select(views.pair_mentees.c.pair_id, views.pair_mentees.c.mentee_id)
                    .where(views.pair_mentees.c.pair_id.in_(list(rows)))
                    .order_by(views.pair_mentees.c.pair_id, views.pair_mentees.c.mentee_id)):
                members[pair_id].append(mentee_id)
    pairs: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for pair_id in ids:
        row = rows.get(pair_id)
        if row is None or not _readable(actor, row, members[pair_id]):
            missing.append(str(pair_id))
            continue
        form = PAIRING_FORMS.get(row.form)
        pairs[str(pair_id)] = {
            "status": row.status, "organisation_id": str(row.organisation_id), "path": row.path,
            "form": row.form, "form_title": form.title_ru if form and form.title_ru else row.form,
            "mentor_id": str(row.mentor_id), "mentee_ids": [str(m) for m in members[pair_id]]}
    log.info("pairing.pairs_served", actor=actor.user, served=len(pairs), missing=len(missing))
    return {"pairs": pairs, "missing": missing}


async def serve_pairs(nc: Client, service: PairingService) -> Subscription:
    """Start answering on ``PAIRS_SUBJECT``; the subscription ends when the connection drains."""

    async def handle(message: Msg) -> None:
        try:
            request = json.loads(message.data or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            reply = _error(DomainError("INVALID_REQUEST", "Неверный запрос", 422))
        else:
            reply = await asyncio.to_thread(answer_pairs, service, request)
        await message.respond(json.dumps(reply, ensure_ascii=False).encode())

    return await nc.subscribe(PAIRS_SUBJECT, queue=PAIRS_QUEUE, cb=handle)
