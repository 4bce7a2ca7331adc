"""The registry names a confirmed cross-organisation pair's mentor (with their organisation) on
its service layer, with the pairing service stood in by a fake that answers as it would: only
the pairs the user may read, each with its status and the mentor's organisation when it is
another. A proposal, a minor and anyone but a curator get no name."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID, uuid4

import pytest

from services.registry.application import RegistryService
from shared.auth import Actor, Role
from shared.contracts import PairFound, PairsReply
from shared.errors import DomainError
from tests.unit.registry.conftest import MUNICIPALITY, SCHOOL_A, SCHOOL_B, Region, acting
from tests.unit.registry.test_service_layer import curator, mentee, mentor


class FakePairs:
    def __init__(self) -> None:
        self.known: dict[str, PairFound] = {}
        self.asked: list[tuple[str, list[UUID]]] = []

    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID]) -> PairsReply:
        self.asked.append((actor.user, list(pair_ids)))
        return PairsReply(pairs={str(i): self.known[str(i)] for i in pair_ids
                                 if str(i) in self.known}, missing=[])


def found(status: str, mentor_id: UUID, region: Region, other: str | None = "Школа school-b",
          ) -> PairFound:
    return PairFound(status=status, organisation_id=region.ids[SCHOOL_A], path=str(SCHOOL_A),
                     form="teacher-student", form_title="учитель – ученик", mentor_id=mentor_id,
                     mentee_ids=[uuid4()], mentor_organisation_name=other)


@pytest.fixture
def peer(registry: RegistryService) -> FakePairs:
    fake = FakePairs()
    registry.pairs_peer = fake  # type: ignore[assignment]
    return fake


def ask(registry: RegistryService, actor: Actor, *pairs: str) -> dict[str, dict[str, str]]:
    return asyncio.run(registry.paired_mentors(actor, [UUID(p) for p in pairs]))["pairs"]


def test_a_confirmed_pair_names_its_mentor_and_a_proposal_does_not(
        registry: RegistryService, region: Region, peer: FakePairs) -> None:
    [adult] = registry.register_people(curator(SCHOOL_B), [mentor(region.ids[SCHOOL_B])])
    confirmed, proposed, own = (str(uuid4()) for _ in range(3))
    peer.known = {confirmed: found("active", adult, region),
                  proposed: found("proposed", adult, region),
                  own: found("active", adult, region, other=None)}
    school_a = curator(SCHOOL_A).actor
    assert ask(registry, school_a, confirmed, proposed, own) == {confirmed: {
        "mentor_id": str(adult), "full_name": "Смирнов Алексей", "organisation_name": "Школа school-b"}}
    assert peer.asked == [(school_a.user, [UUID(p) for p in (confirmed, proposed, own)])]


def test_the_pair_grants_no_name_of_a_minor_nor_to_an_official(
        registry: RegistryService, region: Region, peer: FakePairs) -> None:
    [child] = registry.register_people(curator(SCHOOL_B), [mentee(region.ids[SCHOOL_B])])
    pair = str(uuid4())
    peer.known = {pair: found("active", child, region)}
    assert ask(registry, curator(SCHOOL_A).actor, pair) == {}
    with pytest.raises(DomainError) as refused:
        ask(registry, acting(Role.PARTICIPANT, SCHOOL_A, user=str(uuid4())).actor, pair)
    assert refused.value.code == "FORBIDDEN"
    [adult] = registry.register_people(curator(SCHOOL_B), [mentor(region.ids[SCHOOL_B])])
    peer.known = {pair: found("active", adult, region)}
    # A municipality above both schools reads the mentor by its own right, not the pair's.
    assert ask(registry, acting(Role.MUNICIPAL, MUNICIPALITY).actor, pair)[pair]["mentor_id"] \
        == str(adult)
