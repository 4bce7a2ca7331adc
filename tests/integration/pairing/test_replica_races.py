"""Four replicas race for the same mentees, the same mentors' places and the same people.

Four processes, each a replica of the registry and the pairing service over the one store
(PostgreSQL when NASTAVNIK_TEST_POSTGRES_URL is set, the SQLite files otherwise), send a
thousand attempts at once: pair the same mentees with mentors of two places each, and register
the same people again and again. Whatever the interleaving, the store ends with no mentee in two
pairs, no mentor over their places and no person twice, and every refusal is a 409 with a
machine code and a Russian message.
"""

from __future__ import annotations

import multiprocessing
import random
import re
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from services.pairing import views as pairing_views
from services.pairing.domain import Pair
from services.registry import views as registry_views
from shared.auth import Actor, OrgPath, Role, issue_token
from tests.integration.pairing.conftest import SCHOOL_A, System
from tests.integration.pairing.replicas import Attempt, run_replica

pytestmark = pytest.mark.many_connections  # service processes or replicas on one database

REPLICAS = 4
MENTORS, PLACES, MENTEES = 4, 2, 12
PAIRINGS, PEOPLE, REGISTRATIONS_EACH = 600, 20, 20  # 600 + 20 × 20 = 1,000 attempts
REFUSALS = {"pair": {"MENTEE_ALREADY_PAIRED", "NO_CAPACITY", "CONCURRENT_CHANGE"},
            "person": {"DUPLICATE_PERSON", "CONCURRENT_CHANGE"}}
RUSSIAN = re.compile("[а-яё]{3,}", re.IGNORECASE)


def newcomer(organisation_id: str, n: int) -> dict[str, Any]:
    return {"organisation_id": organisation_id, "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": "Гончаров", "first_name": "Иван",
                       "birth_date": f"2013-04-{1 + n:02d}",
                       "guardian_name": "Гончарова Анна Петровна"}}


def test_four_replicas_never_pair_a_mentee_twice_overfill_a_mentor_or_register_a_person_twice(
        system: System) -> None:
    # The replicas start (imports, stores, views) while the people are registered.
    spawn = multiprocessing.get_context("spawn")
    orders, start, answers = spawn.Queue(), spawn.Barrier(REPLICAS), spawn.Queue()
    # Small pools: four replicas of two services stay well within PostgreSQL's connections.
    settings = system.settings.model_copy(update={"db_pool_size": 2})
    replicas = [spawn.Process(target=run_replica, args=(settings, orders, start, answers))
                for _ in range(REPLICAS)]
    for replica in replicas:
        replica.start()
    outcomes: list[Any] = []
    try:
        mentors = [system.mentor(capacity=PLACES) for _ in range(MENTORS)]
        mentees = [system.mentee() for _ in range(MENTEES)]
        system.pools_caught_up()
        token = issue_token(Actor(user="curator", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)),
                            system.settings.signing_secret)
        chance = random.Random(24)
        attempts: list[Attempt] = [
            ("pair", f"{mentor}/{mentee}", "/pairing/pairs",
             {"form": "учитель – ученик", "mentor_id": mentor, "mentee_ids": [mentee]}, token)
            for mentor, mentee in ((chance.choice(mentors), chance.choice(mentees))
                                   for _ in range(PAIRINGS))]
        attempts += [("person", str(n), "/registry/mentees", newcomer(system.org["school-a"], n), token)
                     for n in range(PEOPLE) for _ in range(REGISTRATIONS_EACH)]
        chance.shuffle(attempts)
        for i in range(REPLICAS):
            orders.put(attempts[i::REPLICAS])
        outcomes = [answers.get(timeout=240) for _ in replicas]
    finally:
        for replica in replicas:  # none is left waiting for orders when the set-up failed
            replica.join(timeout=60 if outcomes else 0)
            if replica.is_alive():
                replica.terminate()
    assert all(isinstance(o, list) for o in outcomes), [o for o in outcomes if isinstance(o, str)]
    answered = [answer for outcome in outcomes for answer in outcome]
    assert len(answered) == len(attempts) == 1000

    # Every attempt was either done or refused as a conflict the client can read.
    for what, _, status, body in answered:
        if status != 201:
            assert status == 409, body
            assert body["code"] in REFUSALS[what], body
            assert RUSSIAN.search(body["message"]), body

    # The pairs, as the store has them (not the view): one pair per mentee, places respected.
    formed = Counter(which for what, which, status, _ in answered if what == "pair" and status == 201)
    service = system.pairing.service
    service.catch_up()
    with service.engine.connect() as conn:
        pair_ids = conn.execute(sa.select(pairing_views.pairs.c.id)).scalars().all()
    pairs: list[Pair] = [service.events.repository.get(i) for i in pair_ids]
    assert len(pairs) == sum(formed.values()) > 0
    assert all(p.active for p in pairs)
    held = Counter(m for p in pairs for m in p.mentee_ids)
    assert [m for m, n in held.items() if n > 1] == []
    load = Counter({p.mentor_id: 0 for p in pairs})
    for pair in pairs:
        load[pair.mentor_id] += len(pair.mentee_ids)
    assert max(load.values()) <= PLACES
    # Everyone could be placed somewhere: the refusals were real conflicts, not lost work.
    assert len(pairs) == min(MENTORS * PLACES, MENTEES)

    # Each newcomer registered exactly once, and the store holds each once.
    registered = Counter(which for what, which, status, _ in answered
                         if what == "person" and status == 201)
    assert registered == Counter({str(n): 1 for n in range(PEOPLE)})
    registry = system.registry.service
    registry.catch_up()
    with registry.engine.connect() as conn:
        people = conn.execute(sa.select(sa.func.count()).select_from(registry_views.people)).scalar_one()
    assert people == MENTORS + MENTEES + PEOPLE
