"""Faults of the services themselves: each one SIGKILLed in turn under load, and two replicas of
every service racing on one store and one set of streams."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from shared.contracts import SOURCES, stream_name
from tests.conftest import wait_until
from tests.fault.conftest import REGIONAL, Deployment, ServiceProcess, assert_exact, stream_messages

pytestmark = pytest.mark.fault


def test_each_service_killed_in_turn_under_load_loses_and_doubles_nothing(
        deployment: Deployment) -> None:
    """One deployment, one load: registry, pairing, monitoring and documents are SIGKILLed one
    after the other while all four store their own events and consume the others'."""
    timings = deployment.start()
    load = deployment.start_load()
    with load.running():
        for service in SOURCES:
            # In the middle of the load: the service has just been storing and consuming.
            load.wait_accepted(service, 8)
            process = deployment.process(service)
            process.kill()  # SIGKILL: no drain, no lease release, commands in flight cut off
            killed = time.monotonic()
            process.start()
            process.wait_ready()
            timings[f"{service}.ready_after_kill"] = time.monotonic() - killed
            since = deployment.snapshot()
            wait_until(deployment.drained(service, since), timeout=180, interval=0.25,
                       message=f"{service} backlog drained")
            timings[f"{service}.backlog_drained_after_kill"] = time.monotonic() - killed
            load.wait_accepted(service, 4)
            timings[f"{service}.serving_after_kill"] = time.monotonic() - killed
    ledgers = deployment.settle("each service SIGKILL in turn + restart", timings)
    assert_exact(ledgers)
    for ledger in ledgers:
        assert ledger.accepted > 4 * 8, ledger  # the load really ran through every kill
    # The audit log agrees with every service's own store, and its chain holds.
    verify = httpx.get(f"{deployment.process('monitoring').url}/audit/verify", headers=REGIONAL,
                       timeout=60).json()
    assert verify["ok"], verify
    assert verify["entries"] == sum(ledger.stored for ledger in ledgers)
    assert all(s["pending"] == 0 for s in verify["services"]), verify


def relay_published(process: ServiceProcess) -> int:
    """Events this replica's relay had acknowledged by the stream, duplicates included."""
    pattern = r'nastavnik_events_published_total\{source="' + process.service + r'"\} (\S+)'
    found = re.search(pattern, process.metrics())
    return int(float(found[1])) if found else 0


def test_two_replicas_of_every_service_racing_with_then_without_the_lease(
        deployment: Deployment) -> None:
    """Two replicas of every service on one store, one view and the same consumers.

    With the lease one relay per store publishes and the other stands by; the holder is
    SIGKILLed and the stand-by takes over. The killed replica comes back with the lease turned
    off (a rolling reconfiguration), so from then on two relays race on every stream and the
    expected-sequence guard alone decides; the one still holding the lease is then SIGKILLed in
    the middle of the race.
    """
    # Both replicas at once on an empty store: the first creates the tables, the other waits.
    timings = deployment.start(replicas=2)
    load = deployment.start_load()
    with load.running():
        for service in SOURCES:
            load.wait_accepted(service, 6)
        holders: dict[str, ServiceProcess] = {}
        for service in SOURCES:
            replicas = deployment.replicas[service]
            wait_until(lambda r=replicas: sum(p.holds_lease() for p in r) == 1, timeout=30,
                       interval=0.1, message=f"one {service} replica holds the lease")
            holders[service] = next(p for p in replicas if p.holds_lease())
        for holder in holders.values():
            holder.kill()
        killed = time.monotonic()
        standbys = {s: next(p for p in deployment.replicas[s] if p is not h) for s, h in holders.items()}
        for service, standby in standbys.items():
            wait_until(standby.holds_lease, timeout=30, interval=0.1,
                       message=f"{service} stand-by takes the lease")
            timings[f"{service}.lease_takeover"] = time.monotonic() - killed
        for holder in holders.values():
            holder.env["NASTAVNIK_RELAY_LEASE_SECONDS"] = "0"
            holder.start()
        for service, holder in holders.items():
            holder.wait_ready()
            timings[f"{service}.killed_replica_ready"] = time.monotonic() - killed
        # Racing: both relays publish whatever either replica stored. How much both published is
        # told by their own counts against the stream's growth (the stream took each event once),
        # read with the load paused and every store published, so nothing moves meanwhile.
        def figures() -> dict[str, tuple[int, int]]:
            with load.paused():
                deployment.wait_published()
                return {s: (relay_published(holders[s]) + relay_published(standbys[s]),
                            stream_messages(deployment.nats_url, stream_name(s))) for s in SOURCES}

        before = figures()
        for service in SOURCES:
            load.wait_accepted(service, 8)
        after = figures()
        raced = {f"{s}.published_by_both_relays":
                 (after[s][0] - before[s][0]) - (after[s][1] - before[s][1]) for s in SOURCES}
        for standby in standbys.values():
            standby.kill()
        for service in SOURCES:
            load.wait_accepted(service, 5)
    ledgers = deployment.settle(
        "two replicas of every service racing, with then without the lease", timings,
        counters=lambda: raced)
    assert_exact(ledgers)
    # A dead replica's share went to the other one: only commands cut off in flight are unknown.
    assert all("ConnectError" not in refused for refused in load.refused.values()), load.refused
