"""The region's NATS as deploy/ configures it, run for real on loopback: three nodes from
deploy/nats/cluster.conf and a municipal leaf node from deploy/nats/leaf.conf, with the
credentials ``nastavnik nats-auth`` issued. Only listen addresses and store folders change:
client and monitoring ports by command-line flags, the rest in the text (nats-server has no flag
for the leafnode port, and refuses a store folder given both ways)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from deploy.tools.nats_auth import RegionSecrets
from shared.bus import AUDIT_HEADS_SUBJECT, connect, edge_stream_config, ensure_streams
from shared.contracts import SOURCES, stream_name
from shared.nats_server import EmbeddedNats, free_port
from shared.settings import Settings
from tests.conftest import publish_until_delivered, wait_until
from tests.integration.deploy.conftest import DEPLOY, issue, lay_out_hub, lay_out_leaf, read_env

NODES = 3


@dataclass
class Region:
    secrets: RegionSecrets
    hub: list[EmbeddedNats]
    leaf: EmbeddedNats

    @property
    def hub_urls(self) -> str:
        return ",".join(node.url for node in self.hub)

    def settings(self, env_file: Path) -> Settings:
        env = read_env(env_file)
        return Settings(nats_user=env["NASTAVNIK_NATS_USER"], nats_password=env["NASTAVNIK_NATS_PASSWORD"])


def get_json(port: int, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
        return dict(json.loads(response.read()))


def meta_leader(node: EmbeddedNats) -> bool:
    try:
        return bool((get_json(node.monitor_port, "/jsz").get("meta_cluster") or {}).get("leader"))  # type: ignore[union-attr]
    except OSError:
        return False


def on_loopback(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    cluster_ports = [free_port() for _ in range(NODES)]
    leaf_ports = [free_port() for _ in range(NODES)]
    routes = [arg for port in cluster_ports for arg in ("--route", f"127.0.0.1:{port}")]
    secrets = issue(tmp_path / "secrets", *routes, "--hub-leaf-url", f"nats-leaf://127.0.0.1:{leaf_ports[0]}")
    hub: list[EmbeddedNats] = []
    leaf: EmbeddedNats | None = None
    template = (DEPLOY / "nats" / "cluster.conf").read_text()
    try:
        for index in range(NODES):
            text = on_loopback(template, {"0.0.0.0:6222": f"127.0.0.1:{cluster_ports[index]}",
                                          "0.0.0.0:7422": f"127.0.0.1:{leaf_ports[index]}",
                                          "store_dir: /data/jetstream": ""})
            config = lay_out_hub(secrets, tmp_path / f"nats-{index + 1}", text)
            monkeypatch.setenv("SERVER_NAME", f"nats-{index + 1}")
            hub.append(EmbeddedNats(config.parent / "store", extra_args=["-c", str(config)]).start())
        wait_until(lambda: meta_leader(hub[0]), timeout=30, message="the hub's JetStream meta leader")
        leaf_text = on_loopback((DEPLOY / "nats" / "leaf.conf").read_text(),
                                {"store_dir: /var/lib/nats/jetstream": ""})
        laid = lay_out_leaf(secrets, "m1", tmp_path / "leaf", leaf_text)
        for key, value in laid.env.items():
            monkeypatch.setenv(key, value)
        leaf = EmbeddedNats(laid.config.parent / "store", extra_args=["-c", str(laid.config)]).start()
        wait_until(lambda: bool(get_json(leaf.monitor_port, "/leafz").get("leafnodes")),  # type: ignore[union-attr]
                   timeout=20, message="the leaf node linked to the hub")
        yield Region(secrets, hub, leaf)
    finally:
        if leaf is not None:
            leaf.stop()
        for node in hub:
            node.stop()


async def refused(url: str) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)


async def test_the_secured_region_serves_its_services_and_sources_the_municipal_leaf(region: Region) -> None:
    hub_node = region.hub[1].url.removeprefix("nats://")
    leaf_link = json.loads(read_env(region.secrets.leaf("m1") / "leaf.env")["LEAF_HUB_URLS"])[0]
    link_credentials = leaf_link.removeprefix("nats-leaf://").split("@")[0]
    # Nobody gets in anonymously, on the hub or on the leaf; a leaf's user is no client either.
    await refused(region.hub[1].url)
    await refused(region.leaf.url)
    await refused(f"nats://{link_credentials}@{hub_node}")

    # A service, with nothing but its env file: streams with 3 replicas across the three nodes.
    registry = await connect(region.hub_urls, "registry",
                             region.settings(region.secrets.service_env("registry")))
    monitoring = await connect(region.hub_urls, "monitoring",
                               region.settings(region.secrets.service_env("monitoring")))
    ops_env = read_env(region.secrets.ops_env)
    ops = await nats.connect(f"nats://{ops_env['NATS_USER']}:{ops_env['NATS_PASSWORD']}@{hub_node}")
    municipal = await connect(region.leaf.url, "registry-m1",
                              region.settings(region.secrets.leaf("m1") / "services" / "registry.env"))
    try:
        js = registry.jetstream()
        # Each service declares its own stream only (the operator's tools may declare them all).
        for service, client in (("registry", registry), ("monitoring", monitoring)):
            await ensure_streams(client.jetstream(), replicas=NODES, deadline=30, owner=service)
        await ensure_streams(ops.jetstream(), replicas=NODES, deadline=30)
        for source in SOURCES:
            info = await js.stream_info(stream_name(source))
            assert info.config.num_replicas == NODES

        # Monitoring announces signed audit heads on a subject outside its own: allowed by name.
        heads: list[bytes] = []

        async def collect(message: object) -> None:
            heads.append(message.data)  # type: ignore[attr-defined]

        await registry.subscribe(AUDIT_HEADS_SUBJECT, cb=collect)
        await registry.flush()
        await publish_until_delivered(monitoring, AUDIT_HEADS_SUBJECT, b'{"size": 1}', heads)
        assert set(heads) == {b'{"size": 1}'}

        # The municipality's own services write to its leaf (its own JetStream domain)...
        leaf_js = municipal.jetstream()
        await ensure_streams(leaf_js, replicas=1, deadline=30, owner="registry")
        await leaf_js.publish("nastavnik.registry.demo.m1.MenteeRegistered", b"from the edge")
        # ...and the operator's hub copy sources it across the link, within the leaf user's rights.
        edge = edge_stream_config("registry", "m1", replicas=NODES)
        await ops.jetstream().add_stream(edge)

        async def sourced() -> int:
            return (await js.stream_info(str(edge.name))).state.messages

        deadline = asyncio.get_running_loop().time() + 30
        while await sourced() == 0:
            assert asyncio.get_running_loop().time() < deadline, "the hub never sourced the leaf"
            await asyncio.sleep(0.05)
        assert await sourced() == 1
    finally:
        for client in (municipal, ops, monitoring, registry):
            await client.close()
