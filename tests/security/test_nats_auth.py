"""Secured NATS: a municipality's credentials reach only its own subjects, a service's replies reach
only that service; nobody gets in anonymously."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, StreamConfig
from nats.js.errors import NotFoundError

from deploy.tools.nats_auth import (
    READS,
    SERVICES,
    NatsAuthorization,
    build_authorization,
    municipality_consumer,
    municipality_inbox,
    service_inbox,
    write_authorization,
)
from deploy.tools.nats_js_api import CONSUMERS, durables_on
from services.registry.rpc import NAMES_SUBJECT
from shared import bus, claims, rpc, sealed, signing
from shared.auth import Actor, OrgPath, Role
from shared.bus import stream_config
from shared.contracts import NAMES, PAIRS, SOURCES, stream_name
from shared.nats_server import EmbeddedNats
from shared.pull import durable_for
from shared.relay import LEASE_BUCKET
from shared.settings import Settings
from tests.conftest import publish_until_delivered

REGION = "demo"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, object]]:
    authorization = build_authorization(REGION, ["m1", "m2"])
    conf = write_authorization(tmp_path / "secrets" / "nats-auth.conf", authorization)
    assert conf.stat().st_mode & 0o777 == 0o600
    with EmbeddedNats(tmp_path / "nats", extra_args=["-c", str(conf)]) as server:
        yield server, authorization


async def connect(url: str, errors: list[str], inbox: str = "_INBOX") -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(url, error_cb=on_error, allow_reconnect=False, connect_timeout=2,
                              inbox_prefix=inbox)


async def connect_municipality(server: EmbeddedNats, authorization: NatsAuthorization,
                               municipality: str, errors: list[str]) -> nats.NATS:
    """A municipality's client: its credentials and the inbox prefix they allow."""
    user = authorization.user(f"mun-{REGION}-{municipality}")
    return await connect(user.url("127.0.0.1", server.port), errors,
                         municipality_inbox(REGION, municipality).removesuffix(".>"))


async def connect_service(server: EmbeddedNats, authorization: NatsAuthorization, service: str,
                          errors: list[str] | None = None) -> Client:
    """The way a service connects (shared.bus.connect), with its generated credentials."""
    user = authorization.user(f"svc-{service}")
    settings = Settings(nats_user=user.user, nats_password=user.password)
    client = await bus.connect(server.url, service, settings)
    if errors is not None:
        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        client._error_cb = on_error  # nats-py's own hook; bus.connect takes no callback
    return client


def refusal(errors: list[str], subject: str) -> bool:
    return any("permissions violation for subscription" in e.lower() and subject.lower() in e.lower()
               for e in errors)


def collector(into: list[bytes]):  # noqa: ANN201 - a callback factory
    async def collect(message: object) -> None:
        into.append(message.data)  # type: ignore[attr-defined]

    return collect


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_municipality_refused_on_another_municipality(secured: tuple[EmbeddedNats, object]) -> None:
    server, authorization = secured
    errors: list[str] = []
    svc = await connect_service(server, authorization, "registry")  # type: ignore[arg-type]
    mun = await connect_municipality(server, authorization, "m1", errors)  # type: ignore[arg-type]
    try:
        js = svc.jetstream()
        await js.add_stream(StreamConfig(name="NASTAVNIK_REGISTRY", subjects=["nastavnik.registry.>"]))

        # Own subjects: subscribe and receive, publish and be delivered.
        own: list[bytes] = []
        await mun.subscribe("nastavnik.registry.demo.m1.>", cb=collector(own))
        await mun.flush()
        await publish_until_delivered(svc, "nastavnik.registry.demo.m1.MenteeRegistered", b"own", own)
        assert set(own) == {b"own"}

        # Another municipality's subjects: the subscription is refused, nothing is delivered.
        foreign: list[bytes] = []
        await mun.subscribe("nastavnik.registry.demo.m2.>",
                            cb=collector(foreign))
        await mun.flush()
        await wait_for(lambda: any("permissions violation for subscription" in e.lower()
                                   and "m2" in e for e in errors))
        await svc.publish("nastavnik.registry.demo.m2.MenteeRegistered", b"foreign")
        await svc.flush()

        # Publishing there is refused too: the service's subscriber never sees it.
        seen_by_service: list[bytes] = []
        await svc.subscribe("nastavnik.registry.demo.m2.>",
                            cb=collector(seen_by_service))
        await svc.flush()
        await mun.publish("nastavnik.registry.demo.m2.MenteeRegistered", b"forged")
        await mun.flush()
        await wait_for(lambda: any("permissions violation for publish" in e.lower()
                                   and "m2" in e for e in errors))
        await svc.publish("nastavnik.registry.demo.m2.Marker", b"marker")
        await wait_for(lambda: b"marker" in seen_by_service)
        assert b"forged" not in seen_by_service
        assert foreign == []

        # JetStream: its own filtered consumer works; one over another municipality is refused.
        mjs = mun.jetstream()
        name = municipality_consumer(REGION, "m1")
        sub = await mjs.pull_subscribe("nastavnik.*.demo.m1.>", durable=name, stream="NASTAVNIK_REGISTRY")
        messages = await sub.fetch(1, timeout=5)
        assert messages[0].data == b"own"
        await messages[0].ack()
        with pytest.raises(Exception):  # noqa: B017 - no reply: the request is dropped as unauthorised
            await mjs.add_consumer("NASTAVNIK_REGISTRY", ConsumerConfig(
                durable_name=name, filter_subject="nastavnik.*.demo.m2.>"), timeout=1)
        with pytest.raises(Exception):  # noqa: B017
            await mjs.add_consumer("NASTAVNIK_REGISTRY", ConsumerConfig(
                durable_name="mun_demo_m2", filter_subject="nastavnik.*.demo.m2.>"), timeout=1)
        info = await js.consumers_info("NASTAVNIK_REGISTRY")
        assert {c.name for c in info} == {name}
        assert info[0].config.filter_subject == "nastavnik.*.demo.m1.>"
    finally:
        await mun.close()
        await svc.close()


async def test_a_municipality_never_reads_what_another_pulls(
        secured: tuple[EmbeddedNats, NatsAuthorization]) -> None:
    """JetStream hands pulled messages to the puller's inbox: each municipality has its own."""
    server, authorization = secured
    m1_errors: list[str] = []
    svc = await connect_service(server, authorization, "registry")
    m1 = await connect_municipality(server, authorization, "m1", m1_errors)
    m2 = await connect_municipality(server, authorization, "m2", [])
    try:
        js = svc.jetstream()
        await js.add_stream(StreamConfig(name="NASTAVNIK_REGISTRY", subjects=["nastavnik.registry.>"]))
        await js.publish("nastavnik.registry.demo.m2.MenteeRegistered", b"m2-event")

        stolen: list[bytes] = []
        refused = ("_INBOX.>", municipality_inbox(REGION, "m2"))
        for subject in (*refused, "nastavnik.registry.demo.m1.>"):
            await m1.subscribe(subject, cb=collector(stolen))
        await m1.flush()
        await wait_for(lambda: all(refusal(m1_errors, s) for s in refused))

        sub = await m2.jetstream().pull_subscribe(
            "nastavnik.*.demo.m2.>", durable=municipality_consumer(REGION, "m2"), stream="NASTAVNIK_REGISTRY")
        messages = await sub.fetch(1, timeout=5)
        assert messages[0].data == b"m2-event"
        assert messages[0].reply.startswith("$JS.ACK.")
        await messages[0].ack_sync()
        # A marker on m1's own subjects: once it arrives, the pulled message would have too.
        await svc.publish("nastavnik.registry.demo.m1.Marker", b"marker")
        await svc.flush()
        await wait_for(lambda: b"marker" in stolen)
        assert stolen == [b"marker"]
    finally:
        for client in (m2, m1, svc):
            await client.close()


async def test_unauthenticated_and_wrong_password_refused(secured: tuple[EmbeddedNats, object]) -> None:
    server, authorization = secured
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
    m1 = authorization.user("mun-demo-m1")  # type: ignore[attr-defined]
    wrong = f"nats://{m1.user}:not-the-password@127.0.0.1:{server.port}"
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(wrong, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
    # The right credentials do get in: the refusals above are about authentication, not the server.
    client = await nats.connect(m1.url("127.0.0.1", server.port), allow_reconnect=False)
    assert client.is_connected
    await client.close()


def test_generated_config_has_no_anonymous_access() -> None:
    authorization = build_authorization(REGION, ["m1"])
    text = authorization.to_conf()
    assert "no_auth_user" not in text
    assert {u.user for u in authorization.users} >= {"svc-registry", "svc-pairing", "mun-demo-m1"}
    assert all(len(u.password) >= 24 for u in authorization.users)
    m1 = authorization.user("mun-demo-m1")
    assert m1.subscribe == ("nastavnik.*.demo.m1.>", "_INBOX_mun-demo-m1.>")
    assert not any(p.startswith("$JS.API.>") or p == ">" for p in m1.publish)
    # Services: their own inbox only, and of request subjects only those they serve.
    pairing = authorization.user("svc-pairing")
    assert "_INBOX_svc-pairing.>" in pairing.subscribe
    assert not any(p.startswith("_INBOX") and p != "_INBOX_svc-pairing.>" for p in pairing.subscribe)
    assert not any(p in (">", "nastavnik.>", "nastavnik.rpc.>") for p in pairing.subscribe)
    assert "nastavnik.rpc.registry.>" in authorization.user("svc-registry").subscribe
    # The bucket of revoked tokens: the registry writes it, no other service may write or purge it.
    assert authorization.user("svc-registry").deny_publish == ()
    assert {"$KV.nastavnik_revoked.>", "$JS.API.STREAM.PURGE.KV_nastavnik_revoked"} <= set(
        pairing.deny_publish)
    assert '"deny"' in text


SECRET = "Иванова Мария Петровна"
CURATOR = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/school-a"))


async def serve_secret_names(registry: Client) -> None:
    """Stands in for the registry's serve_names: the same ``shared.rpc.serve``, a name it knows."""
    await rpc.serve(registry, NAMES, lambda actor, _: {"people": {"p1": {"full_name": SECRET}}})
    await registry.flush()


async def test_name_lookup_replies_reach_only_the_requesting_service(
        secured: tuple[EmbeddedNats, NatsAuthorization]) -> None:
    server, authorization = secured
    documents_inbox = service_inbox("documents")
    assert documents_inbox == "_INBOX_svc-documents.>"
    registry = await connect_service(server, authorization, "registry")
    documents = await connect_service(server, authorization, "documents")
    pairing_errors: list[str] = []
    pairing = await connect_service(server, authorization, "pairing", pairing_errors)
    mun_errors: list[str] = []
    mun = await connect_municipality(server, authorization, "m1", mun_errors)
    try:
        await serve_secret_names(registry)

        # Eavesdroppers: another service on the documents inbox and on the shared one; a
        # municipality on the documents inbox and the shared one (both refused) and its own.
        pairing_seen: list[bytes] = []
        for subject in (documents_inbox, "_INBOX.>", NAMES_SUBJECT):
            await pairing.subscribe(subject, cb=collector(pairing_seen))
        await pairing.subscribe(service_inbox("pairing"), cb=collector(pairing_seen))
        await pairing.flush()
        mun_seen: list[bytes] = []
        for subject in (documents_inbox, "_INBOX.>", municipality_inbox(REGION, "m1"),
                        "nastavnik.registry.demo.m1.>"):
            await mun.subscribe(subject, cb=collector(mun_seen))
        await mun.flush()
        await wait_for(lambda: all(refusal(mun_errors, s) for s in (documents_inbox, "_INBOX.>")) and all(
            refusal(pairing_errors, s) for s in (documents_inbox, "_INBOX.>", NAMES_SUBJECT)))

        # The documents service asks and gets the names, on its own inbox prefix.
        asserted = claims.mint(signing.current(), "documents", "registry", CURATOR)
        request = json.dumps({"person_ids": ["p1"], **asserted}).encode()
        reply = await documents.request(NAMES_SUBJECT, request, timeout=5)
        assert reply.subject.startswith("_INBOX_svc-documents.")
        assert SECRET.encode() not in reply.data  # sealed to the documents service
        opened = sealed.open_sealed(signing.current(), "registry", "documents", reply.data,
                                    sealed.context_of(NAMES_SUBJECT, asserted["actor"]["jti"]))
        assert json.loads(opened)["people"]["p1"]["full_name"] == SECRET

        # Markers behind the reply on each eavesdropper's connection (one server delivers in
        # order): once they arrive, the reply would have too.
        await registry.publish(f"{service_inbox('pairing')[:-2]}.marker", b"marker")
        await registry.publish("nastavnik.registry.demo.m1.Marker", b"marker")
        await wait_for(lambda: b"marker" in pairing_seen and b"marker" in mun_seen)
        assert pairing_seen == [b"marker"]
        assert mun_seen == [b"marker"]
    finally:
        for client in (mun, pairing, documents, registry):
            await client.close()


async def test_every_service_publishes_and_consumes_under_its_permissions(
        secured: tuple[EmbeddedNats, NatsAuthorization]) -> None:
    server, authorization = secured
    clients = {service: await connect_service(server, authorization, service) for service in SERVICES}
    try:
        for service, client in clients.items():
            js = client.jetstream()
            await bus.ensure_streams(js, owner=service)  # every process declares the streams it touches
            if service in SOURCES:
                ack = await js.publish(f"nastavnik.{service}.demo.m1.Checked", service.encode())
                assert ack.stream == stream_name(service)
        for service, client in clients.items():
            js = client.jetstream()
            # A pull consumer on each stream it reads (the way ConsumerRunner reads): JetStream
            # API replies and pulled messages both come to the service's own inbox prefix.
            for source in READS[service]:
                sub = await js.pull_subscribe(f"nastavnik.{source}.>",
                                              durable=durables_on(service, source)[0],
                                              stream=stream_name(source))
                messages = await sub.fetch(1, timeout=5)
                assert messages[0].data == source.encode()
                await messages[0].ack_sync()
        # The relay's lease lives in a KV bucket.
        kv = await clients["documents"].jetstream().create_key_value(KeyValueConfig(bucket=LEASE_BUCKET))
        await kv.put("documents", b"instance-1")
        assert (await kv.get("documents")).value == b"instance-1"
    finally:
        for client in clients.values():
            await client.close()


# ---- the embedded server (``nastavnik up`` and the tests' fixtures) ----------------------------

@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, Settings]]:
    """The server ``nastavnik up`` starts: generated users, nobody else (no tester here)."""
    settings = Settings(data_dir=tmp_path / "data")
    with EmbeddedNats(tmp_path / "nats", secrets_dir=settings.secrets_dir) as server:
        settings.nats_url = server.url
        yield server, settings


async def test_embedded_server_refuses_anonymous_clients(embedded: tuple[EmbeddedNats, Settings]) -> None:
    server, settings = embedded
    assert "@" not in server.url  # what run.json announces carries no credentials
    users = settings.data_dir / "secrets" / "nats-users.json"
    assert users.stat().st_mode & 0o777 == 0o600
    assert (settings.data_dir / "secrets" / "nats-auth.conf").stat().st_mode & 0o777 == 0o600
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
    # Each service finds its own credentials through its settings.
    client = await bus.connect(server.url, "registry", settings, service="registry")
    assert client.is_connected
    await client.close()


async def test_embedded_service_cannot_publish_another_services_subject(
        embedded: tuple[EmbeddedNats, Settings]) -> None:
    server, settings = embedded
    registry = await bus.connect(server.url, "registry", settings, service="registry")
    errors: list[str] = []
    monitoring = await bus.connect(server.url, "monitoring", settings, service="monitoring")

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    monitoring._error_cb = on_error  # nats-py's own hook; bus.connect takes no callback
    try:
        js = registry.jetstream()
        await bus.ensure_streams(js, owner="registry")
        await bus.ensure_streams(monitoring.jetstream(), owner="monitoring")
        with pytest.raises(Exception):  # noqa: B017 - refused: no stream ever acknowledges it
            await monitoring.jetstream().publish("nastavnik.registry.demo.m1.MenteeRegistered",
                                                 b"forged", timeout=1)
        await wait_for(lambda: any("permissions violation for publish" in e.lower()
                                   and "nastavnik.registry" in e for e in errors))
        assert (await js.stream_info(stream_name("registry"))).state.messages == 0
        # Its own subjects it may publish.
        ack = await monitoring.jetstream().publish("nastavnik.monitoring.demo.m1.Checked", b"own")
        assert ack.stream == stream_name("monitoring")
    finally:
        await monitoring.close()
        await registry.close()


async def test_the_clis_credentials_sniff_no_token_and_no_name(
        embedded: tuple[EmbeddedNats, Settings]) -> None:
    """A local process with the CLI's credentials (a file any local tool of the deployment
    reads) gets neither the requests nor the replies of a name lookup, nor anything with ``>``."""
    server, settings = embedded
    registry = await bus.connect(server.url, "registry", settings, service="registry")
    documents = await bus.connect(server.url, "documents", settings, service="documents")
    errors: list[str] = []
    sniffer = await bus.connect(server.url, "sniffer", settings, service="cli")

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    sniffer._error_cb = on_error
    try:
        await serve_secret_names(registry)
        seen: list[bytes] = []
        refused = (">", "nastavnik.>", "nastavnik.rpc.>", NAMES_SUBJECT, "_INBOX.>",
                   service_inbox("documents"), service_inbox("registry"))
        for subject in refused:
            await sniffer.subscribe(subject, cb=collector(seen))
        for source in SOURCES:  # what it may read: events (which carry no names)
            await sniffer.subscribe(f"nastavnik.{source}.>", cb=collector(seen))
        await sniffer.flush()
        await wait_for(lambda: all(refusal(errors, s) for s in refused))

        reply = await rpc.request(documents, NAMES, {"person_ids": ["p1"]}, CURATOR, "documents", 5)
        assert reply["people"]["p1"]["full_name"] == SECRET
        await registry.publish("nastavnik.registry.demo.m1.Marker", b"marker")
        await wait_for(lambda: b"marker" in seen)
        assert seen == [b"marker"]
        assert not any(b"eyJ" in s or SECRET.encode() in s for s in seen)
    finally:
        for client in (sniffer, documents, registry):
            await client.close()


# ---- what a sniffer that reads every subject sees (a plain server: nothing is hidden from it) ----

@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(tmp_path / "nats") as server:
        yield server


async def test_a_sniffer_on_every_subject_sees_no_token_and_no_name_and_cannot_replay(
        open_server: EmbeddedNats) -> None:
    """Worst case: a client reads ``>`` (or holds a service's credentials). Requests carry signed
    claims, not the user's token; replies are sealed to the caller. A captured request replayed,
    addressed to another service, expired or altered is refused."""
    registry = await nats.connect(open_server.url)
    pairing = await nats.connect(open_server.url)
    documents = await nats.connect(open_server.url)
    sniffer = await nats.connect(open_server.url)
    try:
        seen: list[tuple[str, bytes]] = []

        async def sniff(message: Msg) -> None:
            seen.append((message.subject, message.data))

        await sniffer.subscribe(">", cb=sniff)
        await sniffer.flush()
        await serve_secret_names(registry)
        await rpc.serve(pairing, PAIRS, lambda actor, _: {"pairs": {}, "missing": []})
        await pairing.flush()

        reply = await rpc.request(documents, NAMES, {"person_ids": ["p1"]}, CURATOR, "documents", 5)
        assert reply["people"]["p1"]["full_name"] == SECRET
        await wait_for(lambda: len(seen) >= 2)
        request = next(data for subject, data in seen if subject == NAMES.subject)
        answer = next(data for subject, data in seen if subject != NAMES.subject)
        for data in (request, answer):
            assert b"eyJ" not in data and SECRET.encode() not in data and b"token" not in data
        assert sealed.is_sealed(answer)

        async def replay(subject: str, data: bytes) -> dict[str, object]:
            raw = (await sniffer.request(subject, data, timeout=5)).data
            assert not sealed.is_sealed(raw)  # a refusal, readable: it names nobody
            return json.loads(raw)["error"]

        assert (await replay(NAMES.subject, request))["code"] == "RPC_CLAIMS_REPLAYED"
        assert (await replay(PAIRS.subject, request))["code"] == "RPC_CLAIMS_WRONG_AUDIENCE"
        body = json.loads(request)
        expired = {**body, **claims.mint(signing.current(), "documents", "registry", CURATOR,
                                         now=time.time() - claims.LIFETIME - 1)}
        assert (await replay(NAMES.subject, json.dumps(expired).encode())) == {
            "code": "RPC_CLAIMS_EXPIRED", "status": 403,
            "message": "Срок действия запроса между сервисами истёк"}
        forged = {**body, "actor": {**body["actor"], "jti": "fresh", "role": "regional", "scope": "demo"}}
        assert (await replay(NAMES.subject, json.dumps(forged).encode()))["code"] == "RPC_CLAIMS_FORGED"
        # Claims rightly signed by another service, which the route does not list: refused too.
        as_pairing = {**body, **claims.mint(signing.current(), "pairing", "registry", CURATOR)}
        assert (await replay(NAMES.subject, json.dumps(as_pairing).encode()))[
            "code"] == "RPC_CALLER_NOT_ALLOWED"
    finally:
        for client in (sniffer, documents, pairing, registry):
            await client.close()


async def test_a_service_reading_the_requests_it_serves_finds_no_token_in_them(
        embedded: tuple[EmbeddedNats, Settings]) -> None:
    """The registry's own credentials may read every names request (it answers them): a second
    connection with them sees the acting user only as claims, no bearer token, and no reply."""
    server, settings = embedded
    registry = await bus.connect(server.url, "registry", settings, service="registry")
    documents = await bus.connect(server.url, "documents", settings, service="documents")
    sniffer = await bus.connect(server.url, "sniffer", settings, service="registry")
    try:
        await serve_secret_names(registry)
        seen: list[bytes] = []
        await sniffer.subscribe("nastavnik.rpc.registry.>", cb=collector(seen))
        await sniffer.flush()
        reply = await rpc.request(documents, NAMES, {"person_ids": ["p1"]}, CURATOR, "documents", 5)
        assert reply["people"]["p1"]["full_name"] == SECRET
        await wait_for(lambda: len(seen) == 1)
        request = json.loads(seen[0])
        assert request["actor"]["user"] == CURATOR.user and request["actor"]["aud"] == "registry"
        assert b"eyJ" not in seen[0] and SECRET.encode() not in seen[0]
        assert set(request) == {"person_ids", "actor", "actor_signature"}
    finally:
        for client in (sniffer, documents, registry):
            await client.close()


# ---- JetStream's API: each service what it uses, nobody another's stream ----------------------

def test_each_service_may_consume_the_streams_its_read_models_read() -> None:
    """The consumer rights follow the services' read models (``CONSUMERS``): a read model or a
    source missing there would leave its durable refused by the server."""
    from services.documents.consumers import ReportDueInbox
    from services.documents.erasure import ConsentWithdrawnInbox
    from services.monitoring.audit.feeder import AuditFeeder
    from services.monitoring.notifications.store import NotificationInbox
    from services.pairing.consumers import ConsentWatch, PoolsProjection

    read_models = {"pairing": (PoolsProjection, ConsentWatch),
                   "documents": (ReportDueInbox, ConsentWithdrawnInbox),
                   "monitoring": (AuditFeeder, NotificationInbox)}
    for service, models in read_models.items():
        assert CONSUMERS[service] == {m.name: tuple(m.sources) for m in models}, service
    assert set(READS["monitoring"]) == set(SOURCES)  # the audit log reads every stream
    assert READS["registry"] == READS["portal"] == ()
    # Every durable is named for its service, so no two services' permissions name the same one.
    assert durables_on("pairing", "registry") == ("pairing_pools", "pairing_consent_watch")


async def test_a_service_cannot_delete_or_purge_another_services_stream_or_consumers(
        embedded: tuple[EmbeddedNats, Settings]) -> None:
    """With pairing's credentials: the registry's stream cannot be created before the registry
    does, nor deleted, purged, changed or have messages deleted; monitoring's durables cannot be
    deleted or changed, neither on a stream pairing does not read nor on the registry's, which
    both read; the CLI's credentials delete nothing either. Everything keeps working afterwards."""
    server, settings = embedded
    clients = {name: await bus.connect(server.url, name, settings, service=name)
               for name in ("registry", "pairing", "monitoring", "cli")}
    errors: dict[str, list[str]] = {"pairing": [], "cli": []}
    for name, into in errors.items():
        async def on_error(exc: Exception, into: list[str] = into) -> None:
            into.append(str(exc).lower())

        clients[name]._error_cb = on_error  # nats-py's own hook; bus.connect takes no callback

    def refused(name: str, subject: str) -> bool:
        return any("permissions violation for publish" in e and subject.lower() in e
                   for e in errors[name])

    try:
        registry, monitoring = clients["registry"].jetstream(), clients["monitoring"].jetstream()
        # A refused request has no answer: a short wait for it.
        pairing = clients["pairing"].jetstream(timeout=1)
        registry_stream, pairing_stream = stream_name("registry"), stream_name("pairing")
        # The registry's stream is not there yet: pairing may not declare it in its stead (with
        # subjects or limits of its choosing), only wait for it (shared.consumer).
        with pytest.raises(NatsError):
            await pairing.add_stream(StreamConfig(name=registry_stream, subjects=[
                "nastavnik.registry.>", "nastavnik.pairing.>"], max_msgs=1))
        await wait_for(lambda: refused("pairing", f"$JS.API.STREAM.CREATE.{registry_stream}"))
        # Its own reader's view through the runtime's path: ensure_streams declares pairing's only.
        await bus.ensure_streams(clients["pairing"].jetstream(), owner="pairing")
        await pairing.stream_info(pairing_stream)
        with pytest.raises(NotFoundError):
            await pairing.stream_info(registry_stream)
        for name in ("registry", "monitoring"):
            await bus.ensure_streams(clients[name].jetstream(), owner=name)
        await registry.publish("nastavnik.registry.demo.m1.MenteeRegistered", b"one")
        await clients["pairing"].jetstream().publish("nastavnik.pairing.demo.m1.PairFormed", b"pair")
        # Monitoring's durables (the audit log reads every stream), on pairing's stream and on
        # the registry's, which pairing reads too.
        audit_durable = durable_for("monitoring", "audit-log")
        audit = await monitoring.pull_subscribe("nastavnik.pairing.>", durable=audit_durable,
                                                stream=pairing_stream)
        audit_registry = await monitoring.pull_subscribe("nastavnik.registry.>", durable=audit_durable,
                                                         stream=registry_stream)
        changed = ConsumerConfig(durable_name=audit_durable, filter_subject="nastavnik.registry.x.>",
                                 ack_policy=AckPolicy.EXPLICIT)

        attacks = {
            f"$JS.API.STREAM.CREATE.{registry_stream}": pairing.add_stream(StreamConfig(
                name=registry_stream, subjects=["nastavnik.registry.>"])),
            f"$JS.API.CONSUMER.DELETE.{registry_stream}.{audit_durable}":
                pairing.delete_consumer(registry_stream, audit_durable),
            f"$JS.API.CONSUMER.DURABLE.CREATE.{registry_stream}.{audit_durable}":
                pairing.add_consumer(registry_stream, changed),
            f"$JS.API.CONSUMER.CREATE.{registry_stream}.{audit_durable}":
                pairing.add_consumer(registry_stream, name=audit_durable,
                                     filter_subject="nastavnik.registry.x.>"),
            # A nameless (ephemeral) consumer: none on another's stream (the quote ends the
            # subject in the server's message, apart from the named forms above).
            f'$JS.API.CONSUMER.CREATE.{registry_stream}"':
                pairing.add_consumer(registry_stream, ConsumerConfig(filter_subject="nastavnik.registry.>")),
            f"$JS.API.STREAM.DELETE.{registry_stream}": pairing.delete_stream(registry_stream),
            f"$JS.API.STREAM.PURGE.{registry_stream}": pairing.purge_stream(registry_stream),
            f"$JS.API.STREAM.UPDATE.{registry_stream}": pairing.update_stream(StreamConfig(
                name=registry_stream, subjects=["nastavnik.registry.>", "nastavnik.pairing.>"])),
            f"$JS.API.STREAM.MSG.DELETE.{registry_stream}": pairing.delete_msg(registry_stream, 1),
            f"$JS.API.CONSUMER.DELETE.{pairing_stream}.{audit_durable}":
                pairing.delete_consumer(pairing_stream, audit_durable),
            # Even its own stream: deleting or purging is the operator's, not a service's.
            f"$JS.API.STREAM.PURGE.{pairing_stream}": pairing.purge_stream(pairing_stream),
        }
        for subject, attempt in attacks.items():
            with pytest.raises(NatsError):  # no answer: the server dropped the request
                await attempt
            await wait_for(lambda subject=subject: refused("pairing", subject))
        cli = clients["cli"].jetstream(timeout=1)
        for subject, attempt in {
                f"$JS.API.STREAM.DELETE.{registry_stream}": cli.delete_stream(registry_stream),
                f"$JS.API.CONSUMER.DELETE.{registry_stream}.{audit_durable}":
                    cli.delete_consumer(registry_stream, audit_durable)}.items():
            with pytest.raises(NatsError):
                await attempt
            await wait_for(lambda subject=subject: refused("cli", subject))

        # Nothing happened: the registry's stream keeps its event and its subjects, monitoring's
        # consumer still delivers pairing's event.
        info = await registry.stream_info(registry_stream)
        assert info.state.messages == 1 and info.config.subjects == stream_config("registry").subjects
        assert (await registry.get_msg(registry_stream, 1)).data == b"one"
        messages = await audit.fetch(1, timeout=5)
        assert messages[0].data == b"pair"
        await messages[0].ack_sync()
        # Monitoring's durable on the registry's stream kept its filter and still delivers.
        kept = await monitoring.consumer_info(registry_stream, audit_durable)
        assert kept.config.filter_subject == "nastavnik.registry.>"
        messages = await audit_registry.fetch(1, timeout=5)
        assert messages[0].data == b"one"
        await messages[0].ack_sync()
        # And pairing still does its own work: reads the registry's stream through its durable.
        own_durable = durable_for("pairing", "pairing-pools")
        own = await pairing.pull_subscribe("nastavnik.registry.>", durable=own_durable,
                                           stream=registry_stream)
        assert (await own.fetch(1, timeout=5))[0].data == b"one"
        await pairing.delete_consumer(registry_stream, own_durable)  # its own, on a stream it reads
        # The CLI still follows the streams (``nastavnik events``).
        follow = await cli.subscribe("nastavnik.registry.>", ordered_consumer=True)
        assert (await follow.next_msg(timeout=5)).data == b"one"
    finally:
        for client in clients.values():
            await client.close()


async def test_monitoring_keeps_the_audit_checkpoints_under_its_own_credentials(
        embedded: tuple[EmbeddedNats, Settings]) -> None:
    """The witnesses' stream of checkpoints is monitoring's: it declares it and publishes to it."""
    from deploy.tools import nats_auth
    from services.monitoring.audit import checkpoint_stream

    assert nats_auth.CHECKPOINT_STREAM == checkpoint_stream.CHECKPOINT_STREAM
    assert nats_auth.CHECKPOINTS_SUBJECT == checkpoint_stream.CHECKPOINTS_SUBJECT
    server, settings = embedded
    monitoring = await bus.connect(server.url, "monitoring", settings, service="monitoring")
    try:
        await checkpoint_stream.ensure_checkpoint_stream(monitoring)
        ack = await monitoring.jetstream().publish(checkpoint_stream.CHECKPOINTS_SUBJECT, b"note")
        assert ack.stream == checkpoint_stream.CHECKPOINT_STREAM
    finally:
        await monitoring.close()
