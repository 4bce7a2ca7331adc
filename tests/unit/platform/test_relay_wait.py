"""How long an idle relay waits before it looks at its store unwoken."""

from __future__ import annotations

from typing import Any

from shared.relay import RELAY_IDLE_MAX_SECONDS, OutboxRelay


def relay(lease: Any) -> OutboxRelay:
    # Only the waiting policy is under test: no store, no bus.
    made = OutboxRelay.__new__(OutboxRelay)
    made.idle_seconds, made.lease = 0.2, lease
    return made


def test_alone_on_its_store_an_idle_relay_looks_less_and_less_often() -> None:
    alone = relay(lease=None)
    waits = [0.2]
    for _ in range(12):
        waits.append(alone._next_wait(waits[-1], published=0))
    assert waits[1] == 0.4 and waits[-1] == RELAY_IDLE_MAX_SECONDS
    assert alone._next_wait(RELAY_IDLE_MAX_SECONDS, published=3) == 0.2  # busy again: at once


def test_beside_replicas_it_keeps_looking_for_what_they_stored() -> None:
    # Another replica's command never wakes this relay, and the user's next request may already
    # need those events on another service.
    shared = relay(lease=object())
    assert shared._next_wait(0.2, published=0) == 0.2
    assert shared._next_wait(10.0, published=0) == 0.2
