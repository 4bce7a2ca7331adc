"""Faults of the NATS cluster: the stream leader killed, then a second node, then all of it."""

from __future__ import annotations

import time

import pytest

from shared.contracts import SOURCES, stream_name
from shared.nats_cluster import NatsCluster
from tests.conftest import wait_until
from tests.fault.conftest import Deployment, assert_exact, stored_count, stream_messages

pytestmark = pytest.mark.fault
STREAM = stream_name("registry")
#: The issue's minute: longer than any retry or timeout on the way (relay back-off, consumer
#: fetches, leases), so nothing can ride it out by waiting.
OUTAGE_SECONDS = 60.0


def test_stream_leader_killed_then_a_second_node_after_the_first_returns(
        cluster: NatsCluster, deployment: Deployment) -> None:
    timings = deployment.start("registry")
    load = deployment.start_load(rates={"registry": 20.0})
    with load.running():
        load.wait_accepted("registry", 50)
        first = cluster.wait_leader(STREAM)
        cluster.kill(first)
        killed = time.monotonic()
        cluster.wait_leader(STREAM, not_on=first)
        timings["new_leader_elected"] = time.monotonic() - killed
        published = stream_messages(cluster.urls, STREAM)
        wait_until(lambda: stream_messages(cluster.urls, STREAM) > published + 20, timeout=30,
                   interval=0.1, message="publishing resumed on the new leader")
        timings["publishing_resumed"] = time.monotonic() - killed
        load.wait_accepted("registry", 40)

        cluster.restart(first)
        timings["first_node_current"] = cluster.wait_healthy(60)
        load.wait_accepted("registry", 30)
        # The second kill hits whichever node leads now: after the first returned, not before.
        second = cluster.wait_leader(STREAM)
        cluster.kill(second)
        killed = time.monotonic()
        cluster.wait_leader(STREAM, not_on=second)
        timings["second_new_leader_elected"] = time.monotonic() - killed
        load.wait_accepted("registry", 40)
        cluster.restart(second)
        timings["second_node_current"] = cluster.wait_healthy(60)
    ledgers = deployment.settle("NATS stream leader SIGKILL, then a second node", timings)
    assert_exact(ledgers)
    assert load.refused["registry"] == {}  # a node's death is invisible to users


def test_whole_cluster_down_for_a_minute_commands_accepted_and_delivered_later(
        cluster: NatsCluster, deployment: Deployment) -> None:
    """Every service keeps taking commands with the whole cluster gone for a minute; when it
    returns, each relay publishes its backlog once and every consumer catches up once."""
    timings = deployment.start()
    load = deployment.start_load()
    with load.running():
        for service in SOURCES:
            load.wait_accepted(service, 6)
        for index in range(3):
            cluster.kill(index)
        down = time.monotonic()
        accepted = [{s: len(load.accepted[s]) for s in SOURCES}]
        # The outage is a span of time; what is waited on is the load being accepted through
        # both halves of it.
        for half in (1, 2):
            wait_until(lambda h=half: time.monotonic() - down >= OUTAGE_SECONDS * h / 2,
                       timeout=OUTAGE_SECONDS, interval=0.5, message="outage window")
            accepted.append({s: len(load.accepted[s]) for s in SOURCES})
        assert not any(deployment.process(s).ready() for s in SOURCES)  # /ready tells the truth
        stored_during = {s: stored_count(deployment.data_dir, deployment.database_url, s)
                         for s in SOURCES}
        for index in range(3):
            cluster.restart(index)
        back = time.monotonic()
        timings["outage_seconds"] = back - down
        timings["cluster_healthy"] = cluster.wait_healthy(60)
        for service in SOURCES:
            wait_until(lambda s=service: stream_messages(cluster.urls, stream_name(s))
                       >= stored_during[s], timeout=90, interval=0.2,
                       message=f"{service} backlog of the outage published")
            timings[f"{service}.backlog_published"] = time.monotonic() - back
        for service in SOURCES:
            deployment.process(service).wait_ready()
            timings[f"{service}.ready_again"] = time.monotonic() - back
        for service in SOURCES:
            load.wait_accepted(service, 4)
    ledgers = deployment.settle("whole NATS cluster down for a minute", timings)
    assert_exact(ledgers)
    for service in SOURCES:  # commands kept being accepted through both halves of the outage
        assert accepted[0][service] < accepted[1][service] < accepted[2][service], accepted
    assert all(refused == {} for refused in load.refused.values()), load.refused
