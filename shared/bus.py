"""The message bus: connecting, the streams (declared here and only here), publishing."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
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


#: The NATS user of the command-line tools (embedded mode): events and its own replies only.
CLI_USER = "cli"
EMBEDDED_USERS_FILE = "nats-users.json"


def nats_user_name(service: str) -> str:
    """The NATS user a service (or the CLI) connects as; ``shared.nats_auth`` issues the same names."""
    return service if service == CLI_USER else f"svc-{service}"


def users_file(settings: Settings) -> Path:
    return Path(settings.nats_users_file) if settings.nats_users_file else (
        settings.data_dir / "secrets" / EMBEDDED_USERS_FILE)


def connect_options(settings: Settings | None, service: str | None = None) -> dict[str, Any]:
    """Credentials from settings: a .creds file, an nkey seed, user and password, or else the
    service's entry in the users file (written by the embedded server, see :func:`users_file`)."""
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
    if not options and service:
        path = users_file(settings)
        if path.exists():
            passwords = json.loads(path.read_text())
            user = nats_user_name(service)
            if user in passwords:
                options["user"] = user
                options["password"] = passwords[user]
    return options


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


async def connect(url: str, name: str, settings: Settings | None = None,
                  deadline: float = 0.0, service: str | None = None) -> Client:
    """Connect to any of the comma-separated servers; once connected, reconnect forever.

    ``deadline`` > 0 retries the first connection with back-off for that long (a region booting).
    ``service`` picks that service's credentials from the users file when settings name none.
    The inbox prefix is the NATS user's (:func:`inbox_prefix`), the only one its permissions let
    it subscribe to; a connection without a user name takes its own name's.
    """
    options = connect_options(settings, service)
    servers = [u.strip() for u in url.split(",") if u.strip()]
    if "user" in options:
        # The process's own credentials, not whatever a URL carries.
        servers = [_without_userinfo(u) for u in servers]
    prefix = inbox_prefix(options.get("user") or name)

    async def attempt() -> Client:
        return await nats.connect(
            servers=servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            connect_timeout=2, inbox_prefix=prefix, **options,
        )

    if not deadline:
        return await attempt()
    return await retry_async(f"nats connect {name}", attempt, deadline=deadline)


async def ensure_streams(js: JetStreamContext, replicas: int = 1, deadline: float = 0.0,
                         owner: str | None = None) -> None:
    """Idempotent: a service declares its own stream before publishing to it.

    Only the ``owner`` creates its stream, or scales it up when declared with fewer replicas
    than configured (JetStream does that online): a service's NATS user may create and change
    its own stream only (``deploy.tools.nats_auth.service_js_api``), so that none can pre-create
    another's with a configuration of its choosing. The streams a service reads it waits for
    (``shared.consumer``). Without an owner (an operator's tool, a test) every stream.
    Right after a cluster starts there may be no meta leader yet, hence the optional retries.
    """
    async def declare() -> None:
        for source in SOURCES:
            if owner is not None and source != owner:
                continue
            config = stream_config(source, replicas)
            try:
                info = await js.stream_info(config.name)
            except NotFoundError:
                await js.add_stream(config)
                continue
            if (info.config.num_replicas or 1) < replicas and owner in (None, source):
                await js.update_stream(replace(info.config, num_replicas=replicas))

    if not deadline:
        await declare()
    else:
        await retry_async("declare streams", declare, deadline=deadline)


def edge_stream_name(source: str, domain: str) -> str:
    """The hub's copy of a municipal leaf's stream (``contracts.publisher_of`` reads it back)."""
    return f"{stream_name(source)}_EDGE_{domain.upper().replace('-', '_')}"


def edge_stream_config(source: str, domain: str, replicas: int = 1) -> StreamConfig:
    """The hub's copy of a municipal leaf node's stream, sourced across the leaf connection.

    The leaf runs its own JetStream domain, so its stream keeps taking events while the link
    is down; the hub's source consumer resumes where it stopped when the link returns. The copy
    has no subjects of its own: it never competes with the hub's stream for the same subjects.
    """
    return StreamConfig(
        name=edge_stream_name(source, domain),
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS, num_replicas=replicas,
        sources=[StreamSource(name=stream_name(source),
                              external=ExternalStream(api=f"$JS.{domain}.API"))],
    )
