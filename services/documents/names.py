"""Names for a document, asked of the registry with the acting user's token — at issue and again
at every download, since a document that names registry persons is kept only as its recipe.

The documents service never stores them: they go straight into the document being built.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import nats.errors
from nats.aio.client import Client

from services.registry.rpc import NAMES_SUBJECT
from shared.errors import DomainError


@dataclass(frozen=True)
class PersonName:
    full_name: str
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    guardian_name: str | None
    role: str


async def fetch_people(nc: Client | None, token: str, person_ids: Sequence[UUID],
                       timeout: float = 10.0) -> dict[UUID, PersonName]:
    """Every requested person, or an error naming none: a missing one may be out of scope."""
    if not person_ids:
        return {}
    if nc is None or not nc.is_connected:
        raise DomainError("REGISTRY_UNAVAILABLE", "Реестр участников недоступен, повторите позже", 503)
    request = {"token": token, "person_ids": [str(i) for i in dict.fromkeys(person_ids)]}
    try:
        message = await nc.request(NAMES_SUBJECT, json.dumps(request).encode(), timeout=timeout)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
        raise DomainError("REGISTRY_UNAVAILABLE",
                          "Реестр участников недоступен, повторите позже", 503) from exc
    reply = json.loads(message.data)
    if "error" in reply:
        error = reply["error"]
        raise DomainError(error["code"], error["message"], int(error["status"]))
    if reply["missing"]:
        raise DomainError("PERSON_NOT_FOUND",
                          "Участник не найден, вне вашей зоны доступа или отозвал согласие", 404,
                          details=[{"person_id": i} for i in reply["missing"]])
    return {UUID(key): PersonName(
        full_name=value["full_name"], last_name=value["last_name"], first_name=value["first_name"],
        middle_name=value.get("middle_name"),
        birth_date=date.fromisoformat(value["birth_date"]) if value.get("birth_date") else None,
        guardian_name=value.get("guardian_name"), role=value["role"])
        for key, value in reply["people"].items()}
