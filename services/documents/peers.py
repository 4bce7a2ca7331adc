"""What the documents service asks of the other services: the port and its NATS adapter.

Names for a document come from the registry, the pairs an order approves from pairing, and a
report's figures from monitoring. Each is asked for the acting user, stated in claims this service
signs (``shared.claims``; the user's token stays here), so the service that owns the data decides
what that user may see; the replies come encrypted to this service (``shared.sealed``). The
service layer depends on ``Peers`` only; the runtime plugs in ``BusPeers`` (request/reply over
NATS), the unit tests a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from nats.aio.client import Client

from shared import rpc
from shared.auth import Actor
from shared.contracts import (
    DASHBOARD,
    NAMES,
    PAIRS,
    DashboardReply,
    DashboardRequest,
    NamesReply,
    NamesRequest,
    PairsReply,
    PairsRequest,
    RpcRequest,
    RpcRoute,
)

#: A dashboard with the units under it takes monitoring longer than a list of names.
DASHBOARD_TIMEOUT = 30.0
#: The service these requests come from (the issuer of their claims).
SERVICE = "documents"


class Peers(Protocol):
    async def names(self, actor: Actor, person_ids: Sequence[UUID],
                    paired_mentor_ids: Sequence[UUID] = ()) -> NamesReply: ...

    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID],
                    with_goals: bool = False) -> PairsReply: ...

    async def dashboard(self, actor: Actor, org: str, period: str | None = None) -> DashboardReply: ...


class BusPeers:
    """``Peers`` over NATS request/reply; without a connection every peer is unavailable (503)."""

    def __init__(self, nc: Client | None) -> None:
        self.nc = nc

    async def names(self, actor: Actor, person_ids: Sequence[UUID],
                    paired_mentor_ids: Sequence[UUID] = ()) -> NamesReply:
        request = NamesRequest(person_ids=list(dict.fromkeys(person_ids)),
                               paired_mentor_ids=list(dict.fromkeys(paired_mentor_ids)))
        return NamesReply.model_validate(await self._ask(NAMES, actor, request))

    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID],
                    with_goals: bool = False) -> PairsReply:
        request = PairsRequest(pair_ids=list(dict.fromkeys(pair_ids)), with_goals=with_goals)
        return PairsReply.model_validate(await self._ask(PAIRS, actor, request))

    async def dashboard(self, actor: Actor, org: str, period: str | None = None) -> DashboardReply:
        request = DashboardRequest(org=org, period=period)
        return DashboardReply.model_validate(
            await self._ask(DASHBOARD, actor, request, DASHBOARD_TIMEOUT))

    async def _ask(self, route: RpcRoute, actor: Actor, request: RpcRequest,
                   timeout: float = rpc.DEFAULT_TIMEOUT) -> dict[str, object]:
        return await rpc.request(self.nc, route, request.model_dump(mode="json"), actor, SERVICE,
                                 timeout)
