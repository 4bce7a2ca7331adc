"""Request/reply over NATS: which pairs (groups) exist, for a service that prints them.

The documents service issues the order «Об утверждении наставнических пар/групп»; it must list
only pairs the pairing service formed, with the mentor, mentees and form it formed them with.
It asks for the acting user in claims it signs (``shared.claims``), and the answer is scoped
exactly as ``GET /pairing/pairs/{pair_id}`` is (``PairingService.pairs_for_document``).

Request:  ``{"actor": {...}, "actor_signature": hex, "pair_ids": [uuid, ...], "with_goals": bool}``
Reply:    ``{"pairs": {id: {"status", "organisation_id", "path", "form", "form_title",
          "mentor_id", "mentee_ids", "formed_on", "goals"?}}, "missing": [id, ...]}``
          or ``{"error": {"code", "message", "status"}}`` (``shared.rpc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from shared.auth import Actor
from shared.contracts import PAIRS
from shared.rpc import Handler, serve

if TYPE_CHECKING:
    from services.pairing.application import PairingService

def pairs_handler(service: PairingService) -> Handler:
    """One request's actor and ids, translated into one call on the service."""

    def handle(actor: Actor, request: dict[str, Any]) -> dict[str, Any]:
        return service.pairs_for_document(actor, request.get("pair_ids"),
                                          with_goals=request.get("with_goals") is True)

    return handle


async def serve_pairs(nc: Client, service: PairingService) -> Subscription:
    """Start answering on ``PAIRS``; the subscription ends when the connection drains."""
    return await serve(nc, PAIRS, pairs_handler(service))
