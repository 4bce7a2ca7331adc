"""Logouts reach every process: the registry announces each revoked token on the bus.

The registry keeps the deny-list (``registry_revoked_tokens``, ``shared.tokens``); processes of
other services learn it from the JetStream key-value bucket :data:`BUCKET`:

- a key per revoked ``jti``; the value ``{"jti", "exp", "sig"}``, ``sig`` the registry's Ed25519
  signature (``shared.signing``, under :data:`LABEL`) over the ``jti`` and ``exp``: an entry any
  other writer put there is refused (security event), never applied;
- :class:`RevocationFeed` (the registry) puts each logout's tokens at once, and at start every
  row not yet expired, so an announcement lost while the bus was away is made again;
- :func:`follow` (every process, ``shared.host``) reads the bucket's current entries at start and
  then each new one live, onto the process's ``REVOKED``, through a pull consumer that costs
  no wake-ups while nothing is revoked;
- entries leave the bucket after an access token's lifetime (the bucket's TTL): by then the
  token they name has expired anyway.

NATS permissions (``deploy/tools/nats_auth.py``): only the registry's user may publish to
``$KV.<BUCKET>.>`` or purge, delete or update the bucket's stream; the other services read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidSignature
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KV_MARKER_REASON, KV_OP, KeyValue

from shared import signing
from shared.contracts import REVOCATIONS_BUCKET
from shared.logging import get_logger
from shared.loops import wait_any
from shared.metrics import security_event
from shared.pull import DurablePull
from shared.settings import Settings
from shared.signing import Keyring
from shared.tokens import REVOKED, RevokedTokens

log = get_logger(__name__)

BUCKET = REVOCATIONS_BUCKET
LABEL = b"nastavnik-revocation/v1\n"
#: The one service whose announcements count: it ends sessions.
PUBLISHER = "registry"
#: How long the server keeps a follower's consumer with no pull request waiting (a process gone
#: or away from the bus); one back sooner resumes where it was.
FOLLOWER_INACTIVE_SECONDS = 300.0
FOLLOW_BATCH = 256


def _signed_bytes(jti: str, expires_at: float) -> bytes:
    return LABEL + f"{jti}|{int(expires_at)}".encode()


def entry(keyring: Keyring, jti: str, expires_at: float) -> bytes:
    """The bucket's value for one revoked token, signed by the registry."""
    signature = keyring.signer(PUBLISHER).key.sign(_signed_bytes(jti, expires_at))
    return json.dumps({"jti": jti, "exp": int(expires_at), "sig": signature.hex()}).encode()


def read_entry(keyring: Keyring, data: bytes) -> tuple[str, float]:
    """``(jti, exp)`` of a value the registry signed, or ValueError."""
    try:
        value = json.loads(data)
        jti, expires_at, signature = str(value["jti"]), int(value["exp"]), bytes.fromhex(value["sig"])
        key = keyring.public[PUBLISHER]
        key.verify(signature, _signed_bytes(jti, expires_at))
    except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
        raise ValueError("not a revocation the registry signed") from exc
    return jti, float(expires_at)


def _key(jti: str) -> str:
    # KV keys allow [-/_=.a-zA-Z0-9]; our jti are hex, an SSO's may not be.
    return "".join(c if c.isalnum() or c in "-_=" else "_" for c in jti) or "_"


async def bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(KeyValueConfig(
            bucket=BUCKET, history=1, ttl=settings.access_token_minutes * 60 + 60,
            storage=StorageType.FILE, replicas=settings.stream_replicas,
            description="Отозванные токены доступа (выход из системы)"))
    except Exception:  # noqa: BLE001 - made meanwhile by another process: use theirs
        return await js.key_value(BUCKET)


class RevocationFeed:
    """The registry's side: logouts (from worker threads) announced on the bucket."""

    def __init__(self, keyring: Callable[[], Keyring] = signing.current) -> None:
        self.keyring = keyring
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self.announced_total = 0

    def announce(self, revoked: Mapping[str, float]) -> None:
        """Queue ``jti -> exp`` for the bus (any thread); the running feed puts them at once."""
        with self._lock:
            self._pending.update(revoked)
        if self._wake is not None:
            loop, wake = self._wake
            loop.call_soon_threadsafe(wake.set)

    async def run(self, js: JetStreamContext, settings: Settings, stop: asyncio.Event,
                  backlog: Callable[[], Mapping[str, float]] | None = None,
                  retry_seconds: float = 5.0) -> None:
        """Put every pending announcement, the ``backlog`` (the table's live rows) first; what
        fails stays pending and is tried again."""
        wake = asyncio.Event()
        self._wake = (asyncio.get_running_loop(), wake)
        if backlog is not None:
            self.announce(await asyncio.to_thread(backlog))
        while not stop.is_set():
            wake.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
            try:
                kv = await bucket(js, settings) if pending else None
                for jti, expires_at in list(pending.items()):
                    assert kv is not None
                    await kv.put(_key(jti), entry(self.keyring(), jti, expires_at))
                    del pending[jti]
                    self.announced_total += 1
            except Exception as exc:  # noqa: BLE001 - the bus away: keep them, try again
                log.warning("revocations.announce_failed", pending=len(pending), error=repr(exc))
                with self._lock:
                    self._pending = {**pending, **self._pending}
                await wait_any(stop, timeout=retry_seconds)
                continue
            await wait_any(stop, wake)


async def follow(js: JetStreamContext, settings: Settings, stop: asyncio.Event,
                 revoked: RevokedTokens = REVOKED, keyring: Keyring | None = None) -> None:
    """Every process: the bucket's entries onto ``revoked``, those present at start and each new
    one, until ``stop`` (raises when the bus fails: run it under ``shared.loops.supervise``).

    An ephemeral pull consumer rather than nats-py's watcher: the watcher's ordered push consumer
    wakes the process every 0.25 s for flow control, idle or not. A pull request waits on the
    server for the next entry (``shared.pull``: one heartbeat every 10 s while idle). The
    consumer keeps its position across a short break in the connection; when the server falls
    silent or no longer knows the consumer (a restart, a longer break) ``follow`` raises and,
    started again once the bus is back, reads the whole bucket anew (revoking is idempotent),
    so nothing revoked meanwhile is missed."""
    await bucket(js, settings)
    stream = f"KV_{BUCKET}"
    info = await js.add_consumer(stream, ConsumerConfig(
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE,
        filter_subject=f"$KV.{BUCKET}.>", inactive_threshold=FOLLOWER_INACTIVE_SECONDS,
        mem_storage=True, num_replicas=1))
    pull = await DurablePull(js, stream, info.name).open()
    interrupting = asyncio.create_task(pull.interrupt_on(stop))
    try:
        while not stop.is_set():
            messages, turned_away = await pull.fetch(FOLLOW_BATCH)
            if turned_away:
                raise ConnectionError("the revocations' consumer is gone")
            if not messages and not stop.is_set():
                # Idle (or the server silent): make sure the consumer is still there.
                await js.consumer_info(stream, info.name)
            for message in messages:
                _apply(message, revoked, keyring)
    finally:
        interrupting.cancel()
        await pull.close()
        if js._nc.is_connected:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, info.name)


def _apply(message: Msg, revoked: RevokedTokens, keyring: Keyring | None) -> None:
    headers = message.headers or {}
    if not message.data or KV_OP in headers or KV_MARKER_REASON in headers:
        return  # a deletion, a purge or an expiry marker: nothing to revoke
    try:
        jti, expires_at = read_entry(keyring or signing.current(), message.data)
    except ValueError:
        security_event("revocation_refused", reason="BAD_SIGNATURE",
                       target=message.subject[len(f"$KV.{BUCKET}."):][:80])
        return
    revoked.revoke(jti, expires_at)
