"""The message bus: connecting, the streams (declared here and only here), publishing."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

from shared.contracts import SOURCES, stream_name, stream_subjects
from shared.resilience import retry_async
from shared.settings import Settings

#: Long enough to cover a relay restart; consumers are idempotent past it anyway.
DUPLICATE_WINDOW_SECONDS = 3600.0
AUDIT_HEADS_SUBJECT = "nastavnik.audit.heads"
#: Replies (request/reply, JetStream API answers, pulled messages) come to ``<prefix>.<nuid>…``.
#: Each NATS user has a prefix of its own outside the shared ``_INBOX.>``, so the server can let a
#: service subscribe to its own replies only: the registry's name lookups answer with personal data.
INBOX_ROOT = "_INBOX_"


def inbox_prefix(identity: str) -> str:
    """The inbox prefix of a NATS user (or, without one, of a connection's name): one subject
    token, so the permission ``<prefix>.>`` covers exactly that user's inboxes."""
    return INBOX_ROOT + re.sub(r"[^A-Za-z0-9_-]", "_", identity)


def stream_config(source: str, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=stream_name(source),
        subjects=stream_subjects(source),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


def connect_options(settings: Settings | None) -> dict[str, Any]:
    """Credentials from settings: a .creds file, an nkey seed, or user and password."""
    if settings is None:
        return {}
    options: dict[str, Any] = {}
    if settings.nats_credentials:
        options["user_credentials"] = settings.nats_credentials
    if settings.nats_nkey_seed:
        options["nkeys_seed"] = settings.nats_nkey_seed
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password
    return options


async def connect(url: str, name: str, settings: Settings | None = None,
                  deadline: float = 0.0) -> Client:
    """Connect to any of the comma-separated servers; once connected, reconnect forever.

    ``deadline`` > 0 retries the first connection with back-off for that long (a region booting).
    The inbox prefix is the NATS user's (:func:`inbox_prefix`), the only one its permissions let
    it subscribe to; a connection without a user name takes its own name's.
    """
    servers = [u.strip() for u in url.split(",") if u.strip()]
    prefix = inbox_prefix(settings.nats_user if settings is not None and settings.nats_user else name)

    async def attempt() -> Client:
        return await nats.connect(
            servers=servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            connect_timeout=2, inbox_prefix=prefix, **connect_options(settings),
        )

    if not deadline:
        return await attempt()
    return await retry_async(f"nats connect {name}", attempt, deadline=deadline)


async def ensure_streams(js: JetStreamContext, replicas: int = 1, deadline: float = 0.0) -> None:
    """Idempotent: every process declares the streams it touches before using them.

    A stream declared with fewer replicas than configured is scaled up (JetStream does that online).
    Right after a cluster starts there may be no meta leader yet, hence the optional retries.
    """
    async def declare() -> None:
        for source in SOURCES:
            config = stream_config(source, replicas)
            try:
                info = await js.stream_info(config.name)
            except NotFoundError:
                await js.add_stream(config)
                continue
            if (info.config.num_replicas or 1) < replicas:
                await js.update_stream(replace(info.config, num_replicas=replicas))

    if not deadline:
        await declare()
    else:
        await retry_async("declare streams", declare, deadline=deadline)


def edge_stream_config(source: str, domain: str, replicas: int = 1) -> StreamConfig:
    """The hub's copy of a municipal leaf node's stream, sourced across the leaf connection.

    The leaf runs its own JetStream domain, so its stream keeps taking events while the link
    is down; the hub's source consumer resumes where it stopped when the link returns. The copy
    has no subjects of its own: it never competes with the hub's stream for the same subjects.
    """
    return StreamConfig(
        name=f"{stream_name(source)}_EDGE_{domain.upper().replace('-', '_')}",
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS, num_replicas=replicas,
        sources=[StreamSource(name=stream_name(source),
                              external=ExternalStream(api=f"$JS.{domain}.API"))],
    )
