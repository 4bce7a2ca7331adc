"""A confirmed cross-organisation pair grants its curators sight of the mentor: name and
organisation, on the pair's page and wherever the curator sees the pair. The pairing service says
which pairs those are, for the asking user (``shared.contracts.PAIRS``, claims signed by the
registry); the registry names the mentors as the policy lets the pair grant it
(``shared.auth.paired_mentor_view``). A proposal not yet confirmed names nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from nats.aio.client import Client

from shared import rpc
from shared.auth import Actor
from shared.contracts import PAIRS, PairsReply, PairsRequest
from shared.errors import DomainError

#: The pair was confirmed (a proposal is ``proposed`` or ``declined``, never one of these).
CONFIRMED = frozenset({"active", "completed", "dissolved"})
#: As many pairs as one page asks about at once.
MAX_PAIRS = 200
SERVICE = "registry"


class PairsPeer(Protocol):
    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID]) -> PairsReply: ...


class BusPairs:
    """``PairsPeer`` over NATS; without a connection the pairing service is unavailable (503)."""

    def __init__(self, nc: Client | None) -> None:
        self.nc = nc

    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID]) -> PairsReply:
        body = PairsRequest(pair_ids=list(dict.fromkeys(pair_ids))).model_dump(mode="json")
        return PairsReply.model_validate(await rpc.request(self.nc, PAIRS, body, actor, SERVICE))


class PairedMentors:
    """Mixed into ``RegistryService``, whose name lookup it uses."""

    pairs_peer: PairsPeer

    if TYPE_CHECKING:  # what it uses of the service it is mixed into
        def names_for_document(self, actor: Actor, person_ids: Any,
                               paired_mentor_ids: Any = ()) -> dict[str, Any]:
            ...

    async def paired_mentors(self, actor: Actor, pair_ids: Sequence[UUID]) -> dict[str, Any]:
        """By pair id, the other organisation's mentor of each confirmed pair the actor sees:
        ``{"mentor_id", "full_name", "organisation_name"}``. Pairs the actor may not read, the
        pair's own mentors, proposals and mentors the policy does not name are left out."""
        if len(pair_ids) > MAX_PAIRS:
            raise DomainError("TOO_MANY_PAIRS", f"Не более {MAX_PAIRS} пар за один запрос", 422)
        if not pair_ids:
            return {"pairs": {}}
        found = (await self.pairs_peer.pairs(actor, pair_ids)).pairs
        granted = {pair_id: pair for pair_id, pair in found.items()
                   if pair.status in CONFIRMED and pair.mentor_organisation_name}
        mentors = list(dict.fromkeys(p.mentor_id for p in granted.values()))
        if not mentors:
            return {"pairs": {}}
        names = await asyncio.to_thread(self.names_for_document, actor, mentors, mentors)
        people = names["people"]
        return {"pairs": {pair_id: {"mentor_id": str(pair.mentor_id),
                                    "full_name": people[str(pair.mentor_id)]["full_name"],
                                    "organisation_name": pair.mentor_organisation_name}
                          for pair_id, pair in granted.items()
                          if str(pair.mentor_id) in people
                          and not people[str(pair.mentor_id)]["pseudonymous"]}}
