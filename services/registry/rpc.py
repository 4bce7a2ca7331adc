"""Request/reply over NATS: names for a document, read from the registry for an authorised user.

Another service (documents) prints names in orders and consent forms but must never hold them.
It forwards the acting user's token; the registry checks it and answers only with the people
that user may read, leaving out anyone outside their scope or whose consent was withdrawn.

Request:  ``{"token": str, "person_ids": [uuid, ...]}``
Reply:    ``{"people": {id: {"full_name", "last_name", "first_name", "middle_name",
          "birth_date", "guardian_name", "role", "organisation_id"}}, "missing": [id, ...]}``
          or ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.auth import Actor, Role
from shared.errors import DomainError
from shared.logging import get_logger
from shared.tokens import actor_from_token

if TYPE_CHECKING:
    from services.registry.application import RegistryService

log = get_logger(__name__)

NAMES_SUBJECT = "nastavnik.rpc.registry.names"
NAMES_QUEUE = "registry-names"
MAX_PEOPLE = 2000
#: Roles that issue documents; a participant or an auditor gets no names this way.
ISSUER_ROLES = frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL})
SHARED_FIELDS = ("last_name", "first_name", "middle_name", "birth_date", "guardian_name")


def answer_names(service: RegistryService, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (blocking: reads the registry's view and unseals names)."""
    try:
        actor: Actor = actor_from_token(str(request.get("token", "")), service.settings.signing_secret)
        if actor.role not in ISSUER_ROLES:
            raise DomainError("FORBIDDEN", "Недостаточно прав для получения ФИО участников", 403)
        raw_ids = request.get("person_ids")
        if not isinstance(raw_ids, list) or len(raw_ids) > MAX_PEOPLE:
            raise DomainError("INVALID_REQUEST", "Нужен список идентификаторов участников", 422)
        ids = [UUID(str(i)) for i in raw_ids]
    except DomainError as exc:
        return {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
    except ValueError:
        return {"error": {"code": "INVALID_REQUEST", "message": "Неверный идентификатор участника",
                          "status": 422}}
    people: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for person_id in dict.fromkeys(ids):
        try:
            person = service.get_person(actor, person_id, purpose=None)  # checks the scope
        except DomainError:
            missing.append(str(person_id))
            continue
        personal = person.get("personal")
        if not personal:  # consent withdrawn: the data is shredded
            missing.append(str(person_id))
            continue
        people[str(person_id)] = {
            "full_name": person["full_name"], "role": person["role"],
            "organisation_id": person["organisation_id"],
            **{name: personal.get(name) for name in SHARED_FIELDS},
        }
    by_path: dict[str, list[UUID]] = {}
    for person_id, person in people.items():
        path = service.organisation_row(UUID(person["organisation_id"])).path
        by_path.setdefault(path, []).append(UUID(person_id))
    service.record_access(actor, by_path, "names_lookup")
    log.info("registry.names_served", actor=actor.user, served=len(people), missing=len(missing))
    return {"people": people, "missing": missing}


async def serve_names(nc: Client, service: RegistryService) -> Subscription:
    """Start answering on ``NAMES_SUBJECT``; the subscription ends when the connection drains."""

    async def handle(message: Msg) -> None:
        try:
            request = json.loads(message.data or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            reply: dict[str, Any] = {"error": {"code": "INVALID_REQUEST",
                                               "message": "Неверный запрос", "status": 422}}
        else:
            reply = await asyncio.to_thread(answer_names, service, request)
        await message.respond(json.dumps(reply, ensure_ascii=False).encode())

    return await nc.subscribe(NAMES_SUBJECT, queue=NAMES_QUEUE, cb=handle)
