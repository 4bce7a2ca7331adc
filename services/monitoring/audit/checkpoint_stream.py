"""The log's checkpoints on JetStream: a stream of their own that keeps every message and
refuses deletes and purges (``deny_delete``/``deny_purge`` cannot be turned off once set), so
witnesses and auditors anywhere can read every checkpoint the log ever signed."""

from __future__ import annotations

import nats.errors
from nats.aio.client import Client
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from shared.logging import get_logger

from .checkpoint import SignedNote

log = get_logger(__name__)

CHECKPOINT_STREAM = "NASTAVNIK_AUDIT_CHECKPOINTS"
CHECKPOINTS_SUBJECT = "nastavnik.audit.checkpoints"


def checkpoint_stream_config(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=CHECKPOINT_STREAM,
        subjects=[CHECKPOINTS_SUBJECT],
        retention=RetentionPolicy.LIMITS,  # no limits set: nothing ever ages out
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,  # a full stream refuses new checkpoints, never drops old
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
    )


async def ensure_checkpoint_stream(nc: Client, replicas: int = 1) -> None:
    js = nc.jetstream()
    try:
        await js.stream_info(CHECKPOINT_STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(checkpoint_stream_config(replicas))


async def publish_checkpoint(nc: Client, note: SignedNote) -> None:
    """Publish one checkpoint; de-duplicated by its size and root (``Nats-Msg-Id``)."""
    cp = note.checkpoint
    await ensure_checkpoint_stream(nc)
    await nc.jetstream().publish(CHECKPOINTS_SUBJECT, note.text().encode(),
                                 headers={"Nats-Msg-Id": f"{cp.size}-{cp.root_hex}"})
