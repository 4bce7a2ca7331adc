"""Request/reply over NATS: names for a document, read from the registry for an authorised user.

Another service (documents) prints names in orders and consent forms but must never hold them.
It asks for the acting user in claims it signs (``shared.claims``); the registry checks them and
answers only with the people that user may read, leaving out anyone outside their scope or whose
consent was withdrawn (``RegistryService.names_for_document``). The reply is encrypted to the
documents service (``shared.sealed``): no name is readable on the bus.

Request:  ``{"actor": {...}, "actor_signature": hex, "person_ids": [uuid, ...]}``
Reply:    ``{"people": {id: {"full_name", "last_name", "first_name", "middle_name",
          "birth_date", "guardian_name", "role", "organisation_id", "pseudonymous", "label",
          "protected"}}, "missing": [id, ...]}`` — for a child an official may not see by name
          (``shared.auth.personal_data_view``), ``full_name`` is the label and the rest empty
          or ``{"error": {"code", "message", "status"}}`` (``shared.rpc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from services.registry.domain import SHARED_FIELDS
from shared.auth import Actor
from shared.contracts import CONTACTS, NAMES
from shared.rpc import Handler, for_caller, serve

if TYPE_CHECKING:
    from services.registry.application import RegistryService

#: The route's subject and queue, for callers that do not read ``shared.contracts.NAMES`` yet
#: (tests/security/test_nats_auth.py).
NAMES_SUBJECT = NAMES.subject
NAMES_QUEUE = NAMES.queue

__all__ = ["NAMES_QUEUE", "NAMES_SUBJECT", "SHARED_FIELDS", "names_handler", "serve_contacts",
           "serve_names"]


def names_handler(service: RegistryService) -> Handler:
    """One request's actor and ids, translated into one call on the service."""
    def handle(actor: Actor, request: dict[str, Any]) -> dict[str, Any]:
        return service.names_for_document(actor, request.get("person_ids"),
                                          request.get("paired_mentor_ids") or [])

    return handle


async def serve_names(nc: Client, service: RegistryService) -> Subscription:
    """Start answering on ``NAMES``; the subscription ends when the connection drains."""
    return await serve(nc, NAMES, names_handler(service))


async def serve_contacts(nc: Client, service: RegistryService) -> Subscription:
    """Start answering on ``CONTACTS`` (``services.registry.contacts``)."""
    return await serve(nc, CONTACTS, for_caller("audiences", lambda actor, audiences:
                                                service.contacts.recipients(actor, list(audiences or []))))
