"""A NATS server or cluster that fails to start leaves no node running."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.nats_cluster import NatsCluster
from shared.nats_server import EmbeddedNats


def test_a_cluster_whose_node_cannot_start_stops_the_others(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path)
    (tmp_path / cluster.server_name(2) / "nats.conf").write_text("cluster {\n")  # unreadable
    with pytest.raises(RuntimeError), cluster:
        pass
    assert [cluster.alive(i) for i in range(3)] == [False, False, False]


def test_a_server_that_is_not_healthy_in_time_is_not_left_running(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    with pytest.raises(TimeoutError):
        server.start(timeout=0)  # gives up before the first look
    assert server.process is not None and server.process.poll() is not None
