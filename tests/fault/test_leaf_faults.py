"""The municipal edge: a leaf node with its own JetStream domain, cut off from the hub and back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from shared.bus import connect, edge_stream_config
from shared.contracts import stream_name
from shared.nats_cluster import NatsCluster
from tests.conftest import wait_until
from tests.fault.cluster import LeafNode, LinkProxy
from tests.fault.conftest import Deployment, assert_exact, stop_all, stored_count, stream_messages

pytestmark = pytest.mark.fault
CUT_SECONDS = 10.0
DOMAIN = "m1"


def declare_edge_stream(hub_urls: str) -> str:
    async def declare() -> str:
        nc = await connect(hub_urls, "fault-operator", deadline=30)
        try:
            config = edge_stream_config("registry", DOMAIN, replicas=3)
            await nc.jetstream().add_stream(config)
            return str(config.name)
        finally:
            await nc.close()

    return asyncio.run(declare())


def test_municipal_leaf_cut_off_keeps_working_and_catches_up_without_loss_or_doubles(
        cluster: NatsCluster, deployment: Deployment, tmp_path: Path) -> None:
    with LinkProxy(cluster.leaf_ports[0]) as link, \
            LeafNode(tmp_path / "leaf", [link.url], DOMAIN) as leaf:
        wait_until(leaf.connected, timeout=20, message="leaf linked to the hub")
        # The municipality's registry runs against its leaf node.
        deployment.nats_url = leaf.url
        timings = deployment.start("registry", stream_replicas=1)
        # Declared once the leaf's stream exists: the hub's source starts at once, not after
        # its retry back-off (in production the operator declares it when adding the edge).
        edge_stream = declare_edge_stream(cluster.urls)
        assert edge_stream == f"{stream_name('registry')}_EDGE_M1"
        # The ledger compares the store with the hub's copy, which the region's consumer reads.
        deployment.streams["registry"] = (cluster.urls, edge_stream)
        load = deployment.start_load(rates={"registry": 20.0}, counter_url=cluster.urls,
                                     counter_sources=["registry_edge_m1"],
                                     filter_subject="nastavnik.registry.>")
        with load.running():
            load.wait_accepted("registry", 40)
            wait_until(lambda: stream_messages(cluster.urls, edge_stream) > 20, timeout=60,
                       interval=0.2, message="the hub sources the leaf's stream")
            timings["source_flowing"] = time.monotonic() - load.started
            link.cut()
            cut = time.monotonic()
            wait_until(lambda: not leaf.connected(), timeout=10, message="leaf notices the cut")
            hub_before = stream_messages(cluster.urls, edge_stream)
            accepted = len(load.accepted["registry"])
            wait_until(lambda: time.monotonic() - cut >= CUT_SECONDS, timeout=CUT_SECONDS + 5,
                       interval=0.2, message="link down window")
            assert len(load.accepted["registry"]) > accepted  # commands taken throughout
            stored_during = stored_count(deployment.data_dir, deployment.database_url)
            # Cut off, the municipality worked on: its leaf stream kept taking events,
            # the hub got none of them.
            assert stream_messages(leaf.url, stream_name("registry")) > hub_before + 50
            assert stream_messages(cluster.urls, edge_stream) == hub_before
            link.restore()
            back = time.monotonic()
            wait_until(leaf.connected, timeout=30, message="leaf linked again")
            timings["relinked"] = time.monotonic() - back
            wait_until(lambda: stream_messages(cluster.urls, edge_stream) >= stored_during,
                       timeout=60, interval=0.2, message="hub caught up")
            timings["hub_caught_up"] = time.monotonic() - back
            timings["cut_seconds"] = back - cut
            load.wait_accepted("registry", 30)
        ledgers = deployment.settle("municipal leaf cut off and reconnected", timings)
        stop_all(deployment.processes)  # while its leaf is still there to drain to
    assert_exact(ledgers)
    assert load.refused["registry"] == {}
