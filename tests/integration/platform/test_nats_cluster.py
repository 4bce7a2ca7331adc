"""A NATS cluster that fails to start leaves no node running (shared.nats_cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.nats_cluster import NatsCluster


def test_a_cluster_whose_node_cannot_start_stops_the_others(tmp_path: Path) -> None:
    cluster = NatsCluster(tmp_path)
    (tmp_path / cluster.server_name(2) / "nats.conf").write_text("cluster {\n")  # unreadable
    with pytest.raises(RuntimeError), cluster:
        pass
    assert [cluster.alive(i) for i in range(3)] == [False, False, False]
