"""The monitoring runtime's pieces on their own: the head signer on a real NATS, the auditor's
HTTP routes and their refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from fastapi.testclient import TestClient

from services.monitoring.audit import AuditEnvelope, SignedHead, verify_head
from services.monitoring.audit.checkpoint import NoteVerifier, parse_note
from services.monitoring.audit.checkpoint_stream import CHECKPOINT_STREAM, CHECKPOINTS_SUBJECT
from services.monitoring.audit.feeder import AuditLog, HeadSigningLoop, init_key
from services.monitoring.runtime import MonitoringRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.bus import AUDIT_HEADS_SUBJECT
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import wait_until

T0 = datetime(2025, 9, 1, tzinfo=UTC)


def entries(count: int, start: int = 1) -> list[AuditEnvelope]:
    return [AuditEnvelope(data=b'{"n":%d}' % i, source="registry", source_position=i,
                          event_id=str(uuid.UUID(int=i)), event_type="ConsentRecorded",
                          occurred_at=T0 + timedelta(seconds=i), aggregate_id=str(uuid.UUID(int=i)),
                          region="demo") for i in range(start, start + count)]


async def test_heads_are_signed_when_the_log_grew_and_published_on_nats(
        settings: Settings, fresh_nats: EmbeddedNats) -> None:
    init_key(settings, exist_ok=True)
    audit = AuditLog.open(settings)
    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, entries(5))
    loop = HeadSigningLoop(audit, interval=3600)  # only on demand within this test
    nc = await nats.connect(fresh_nats.url)
    subscription = await nc.subscribe(AUDIT_HEADS_SUBJECT)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(nc, stop))
    try:
        loop.request()
        message = await subscription.next_msg(timeout=10)
        published = SignedHead.from_dict(json.loads(message.data))
        assert published.size == 5
        assert verify_head(published, audit.signer.public_key)
        assert audit.heads.latest() == published

        with audit.store.engine.begin() as conn:
            audit.store.append_batch(conn, entries(2, start=6))

        # The checkpoint of that head is kept in a stream of its own, which refuses deletes.
        js = nc.jetstream()
        kept = None
        for _ in range(200):  # published right after the head, on the loop's own task
            try:
                kept = await js.get_last_msg(CHECKPOINT_STREAM, CHECKPOINTS_SUBJECT)
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.05)
        assert kept is not None, "no checkpoint in the stream"
        note = parse_note(kept.data.decode())
        assert (note.checkpoint.size, note.checkpoint.root_hex) == (5, published.root_hex)
        assert note.signed_by(NoteVerifier(audit.origin, audit.signer.public_key))
        info = await js.stream_info(CHECKPOINT_STREAM)
        assert info.config.deny_delete and info.config.deny_purge
        with pytest.raises(nats.js.errors.Error):
            await js.delete_msg(CHECKPOINT_STREAM, kept.seq)
        with pytest.raises(nats.js.errors.Error):
            await js.purge_stream(CHECKPOINT_STREAM)
        assert (await js.stream_info(CHECKPOINT_STREAM)).state.messages == 1
    finally:
        stop.set()
        await task
        await nc.close()
    # Stopping signs the last growth, so the heads file covers the whole log.
    assert [h.size for h in audit.heads.all()] == [5, 7]
    assert loop.sign_if_grown() is None  # nothing new: no head
    audit.store.engine.dispose()


@pytest.fixture
def client_and_settings(settings: Settings,
                        fresh_nats: EmbeddedNats) -> Iterator[tuple[TestClient, Settings]]:
    settings.nats_url = fresh_nats.url
    init_key(settings, exist_ok=True)
    runtimes = [RegistryRuntime(settings), MonitoringRuntime(settings, head_interval=0.1)]
    with TestClient(create_app(settings, runtimes)) as client:
        yield client, settings


def headers(settings: Settings, role: Role, scope: str) -> dict[str, str]:
    actor = Actor(user="t", role=role, scope=OrgPath.parse(scope))
    return {"Authorization": f"Bearer {issue_token(actor, settings.signing_secret)}"}


def test_auditor_routes_check_role_scope_and_input(
        client_and_settings: tuple[TestClient, Settings]) -> None:
    client, settings = client_and_settings
    auditor = headers(settings, Role.AUDITOR, "demo")
    created = client.post("/registry/organisations", json={"code": "demo", "name": "Демо",
                                                            "kind": "region"},
                          headers=headers(settings, Role.REGIONAL, "demo"))
    assert created.status_code == 201

    def logged() -> bool:
        return client.get("/health").json()["services"]["monitoring"]["log_size"] == 1

    wait_until(logged, message="the organisation reaching the audit log")
    verify = client.get("/audit/verify", headers=auditor)
    assert verify.status_code == 200
    body = verify.json()
    assert body["ok"] is True and body["entries"] == 1 and body["problem"] is None
    assert body["services"] == [{"source": "registry", "compared": 1, "pending": 0, "problem": None}]

    assert client.get("/audit/verify").status_code == 401
    curator = client.get("/audit/verify", headers=headers(settings, Role.CURATOR, "demo/m1/s1"))
    assert curator.status_code == 403 and curator.json()["code"] == "FORBIDDEN"
    local = client.get("/audit/verify", headers=headers(settings, Role.AUDITOR, "demo/m1"))
    assert local.status_code == 403
    bad_date = client.get("/audit/replay?as_of=вчера", headers=auditor)
    assert bad_date.status_code == 422 and bad_date.json()["code"] == "INVALID_DATE"
    bad_id = client.get("/audit/trail/not-an-id", headers=auditor)
    assert bad_id.status_code == 422 and bad_id.json()["code"] == "INVALID_ID"
    outside = client.get("/audit/replay?as_of=2030-01-01&org=other", headers=auditor)
    assert outside.status_code == 403

    replay = client.get("/audit/replay?as_of=2999-01-01", headers=auditor)
    assert replay.status_code == 200
    assert replay.json()["dashboards"]["demo"]["organisations"]["by_kind"] == {"region": 1}
    before = client.get("/audit/replay?as_of=2000-01-01", headers=auditor).json()
    assert before["events"] == 0 and before["dashboards"]["demo"]["organisations"]["total"] == 0

    export = client.get("/audit/export", headers=auditor)
    assert export.status_code == 200
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["type"] for line in lines] == ["header", "head", "entry", "manifest"]
    assert client.post("/audit/verify", headers=auditor).status_code == 405


async def test_a_head_requested_from_another_thread_is_signed_at_once(settings: Settings) -> None:
    init_key(settings, exist_ok=True)
    audit = AuditLog.open(settings)
    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, entries(3))
    loop = HeadSigningLoop(audit, interval=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(None, stop))
    try:
        await asyncio.sleep(0.05)
        await asyncio.to_thread(loop.request)  # e.g. from a route run in the thread pool
        for _ in range(100):
            if loop.signed_size == 3:
                break
            await asyncio.sleep(0.05)
        assert loop.signed_size == 3
        head = await loop.sign_now(timeout=5)  # on demand, waiting for the head itself
        assert head is not None and head.size == 3 and verify_head(head, audit.signer.public_key)
    finally:
        stop.set()
        await task
    assert await loop.sign_now(timeout=0.1) is None  # not running: nobody to sign
    assert [h.size for h in audit.heads.all()] == [3, 3]
    audit.store.engine.dispose()


@pytest.fixture
def slow_signing(settings: Settings, fresh_nats: EmbeddedNats,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Settings]]:
    """A service whose own loop does not sign during the test (an hour's interval)."""
    import services.monitoring.application as monitoring_application

    monkeypatch.setattr(monitoring_application, "HEAD_WAIT_MAX", 0.3)
    settings.nats_url = fresh_nats.url
    init_key(settings, exist_ok=True)
    runtimes = [RegistryRuntime(settings), MonitoringRuntime(settings, head_interval=3600)]
    with TestClient(create_app(settings, runtimes)) as client:
        yield client, settings


def test_auditor_export_never_signs_and_the_region_signs_on_demand(
        slow_signing: tuple[TestClient, Settings], tmp_path) -> None:
    from services.monitoring.audit import check_export
    from services.monitoring.audit.feeder import HEADS_FILE_NAME

    client, settings = slow_signing
    heads_path = settings.data_dir / "monitoring" / HEADS_FILE_NAME
    auditor = headers(settings, Role.AUDITOR, "demo")
    regional = headers(settings, Role.REGIONAL, "demo")

    def log_size() -> int:
        return client.get("/health").json()["services"]["monitoring"]["log_size"]

    def heads_lines() -> int:
        return len(heads_path.read_text().splitlines()) if heads_path.exists() else 0

    region = client.post("/registry/organisations", json={
        "code": "demo", "name": "Демо", "kind": "region"}, headers=regional)
    assert region.status_code == 201
    wait_until(lambda: log_size() == 1, message="the organisation reaching the audit log")

    unsigned = client.get("/audit/export", headers=auditor)
    assert unsigned.status_code == 409 and unsigned.json()["code"] == "NO_SIGNED_HEAD"
    assert heads_lines() == 0  # a read signs nothing

    assert client.post("/audit/heads", headers=auditor).status_code == 403  # read-only role
    assert client.post("/audit/heads", headers=headers(settings, Role.REGIONAL, "north")
                       ).status_code == 403
    assert client.post("/audit/heads", headers=headers(settings, Role.CURATOR, "demo/m1/s1")
                       ).status_code == 403
    assert client.post("/audit/heads").status_code == 401
    signed = client.post("/audit/heads", headers=regional)
    assert signed.status_code == 201, signed.text
    head = SignedHead.from_dict(signed.json())
    assert head.size == 1 and heads_lines() == 1

    export = client.get("/audit/export", headers=auditor)
    assert export.status_code == 200, export.text
    assert heads_lines() == 1  # the export used that head, it signed none of its own
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["type"] for line in lines] == ["header", "head", "entry", "manifest"]
    assert lines[1]["signature_b64"] == head.signature_b64

    assert client.post("/registry/organisations", json={
        "code": "m1", "name": "Округ", "kind": "municipality",
        "parent_id": region.json()["id"]}, headers=regional).status_code == 201
    wait_until(lambda: log_size() == 2, message="the municipality reaching the audit log")
    behind = client.get("/audit/export", headers=auditor)
    assert behind.status_code == 200 and heads_lines() == 1
    out = tmp_path / "export.jsonl"
    out.write_text(behind.text, encoding="utf-8")
    published = client.get("/audit/public-key", headers=auditor).json()["public_key_pem"]
    checked = check_export(out, published)
    assert checked.ok and checked.entries == 1 and checked.signed_size == 1  # up to its head
    assert client.get("/audit/verify", headers=auditor).json()["ok"] is True
    assert heads_lines() == 1

