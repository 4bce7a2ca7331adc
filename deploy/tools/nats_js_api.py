"""The JetStream API each NATS user of a service may call (``deploy.tools.nats_auth``): which
streams it reads, creates and changes, and which consumers it may make, read and delete."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.bus import edge_stream_name
from shared.contracts import REVOCATIONS_BUCKET, SOURCES, stream_name
from shared.pull import durable_for

#: The audit log's checkpoints (``services.monitoring.audit.checkpoint_stream``): monitoring's.
CHECKPOINT_STREAM = "NASTAVNIK_AUDIT_CHECKPOINTS"
#: Each service's read models and the streams each reads (``shared.consumer`` projections, by
#: name): a read model binds one durable per stream, named ``<service>_<model>``
#: (:func:`shared.consumer.durable_for`). The permissions name exactly these durables: a service
#: reading a stream cannot delete or reconfigure another's durable on it. Kept beside the
#: services' runtimes by tests/security/test_nats_auth.py.
CONSUMERS: dict[str, dict[str, tuple[str, ...]]] = {
    "registry": {},
    "pairing": {"pairing-pools": ("registry",), "pairing-consent-watch": ("registry",)},
    "documents": {"documents-report-due": ("monitoring",),
                  "documents-consent-erasure": ("registry",)},
    "monitoring": {"audit-log": SOURCES, "monitoring-notifications": ("monitoring", "pairing")},
    "portal": {},
}
#: The event streams each service reads (its consumers' sources).
READS: dict[str, tuple[str, ...]] = {
    service: tuple(dict.fromkeys(s for sources in models.values() for s in sources))
    for service, models in CONSUMERS.items()}
#: Streams of a service's own besides its event stream: the audit log's checkpoints.
EXTRA_STREAMS: dict[str, tuple[str, ...]] = {"monitoring": (CHECKPOINT_STREAM,)}
#: Key-value buckets every service uses: the relays' leases (``shared.relay``) and the revoked
#: tokens (``shared.revocations``, written by the registry alone: ``REVOCATIONS_WRITES``).
SHARED_BUCKETS = ("nastavnik_relay_leases", REVOCATIONS_BUCKET)


def js_read_stream(stream: str) -> tuple[str, ...]:
    """Reading a stream: its state, single messages (direct or through the leader)."""
    return (f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>")


def js_consume_stream(stream: str) -> tuple[str, ...]:
    """Consumers of any name on a stream: create (every form the client sends: ephemeral, named,
    named with its filter, durable), look up, pull, acknowledge, delete. Only on the shared
    key-value buckets, whose watchers are ephemeral; an event stream's durables are named
    (:func:`js_own_durables`)."""
    return (f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*", f"$JS.API.CONSUMER.INFO.{stream}.*",
            f"$JS.API.CONSUMER.NAMES.{stream}", f"$JS.API.CONSUMER.LIST.{stream}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*", f"$JS.API.CONSUMER.DELETE.{stream}.*",
            f"$JS.ACK.{stream}.>")


def js_own_durables(stream: str, durables: Iterable[str]) -> tuple[str, ...]:
    """A service's own durables on a stream it reads, by name: create or update (the legacy form
    the client uses for a durable, and the named form with or without its filter), look up,
    pull, acknowledge, delete. Listing the stream's consumers shows names and positions only.
    No ephemeral consumer: the server would let a nameless create request carry any name."""
    api = [f"$JS.API.CONSUMER.NAMES.{stream}", f"$JS.API.CONSUMER.LIST.{stream}"]
    for durable in durables:
        api += [f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
                f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
                f"$JS.ACK.{stream}.{durable}.>"]
    return tuple(api)


def durables_on(service: str, source: str) -> tuple[str, ...]:
    """The durables a service's read models bind on ``source``'s stream."""
    return tuple(durable_for(service, model) for model, sources in CONSUMERS.get(service, {}).items()
                 if source in sources)


def js_follow_stream(stream: str) -> tuple[str, ...]:
    """Following a stream with an ordered consumer (ephemeral, nameless: the server names it):
    no durable, nobody else's consumer to change or delete."""
    return (f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.INFO.{stream}.*")


def service_js_api(service: str, edges: Sequence[str] = ()) -> tuple[str, ...]:
    """The JetStream API a service uses, and no more (no ``$JS.API.>``).

    Every event stream it may read; only its own may it create (``shared.bus.ensure_streams``:
    nobody pre-creates another's stream with a configuration of its choosing) and change
    (``UPDATE``: replicas), and no service deletes or purges a stream or deletes its messages:
    that is the operator's (``ops_user``). Consumers only on the streams it reads
    (:data:`READS`), and of those only its own durables (:func:`js_own_durables`); the shared
    buckets as a key-value client uses them.
    """
    own = (stream_name(service),) if service in SOURCES else ()
    api = ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]
    for source in SOURCES:
        api += js_read_stream(stream_name(source))
    for stream in (*own, *EXTRA_STREAMS.get(service, ())):
        # Its own stream's consumers it may list and look at (who reads it, how far), not touch.
        api += [f"$JS.API.STREAM.CREATE.{stream}", f"$JS.API.STREAM.UPDATE.{stream}",
                *js_read_stream(stream), f"$JS.API.CONSUMER.NAMES.{stream}",
                f"$JS.API.CONSUMER.LIST.{stream}", f"$JS.API.CONSUMER.INFO.{stream}.*"]
    for source in READS.get(service, ()):
        api += js_own_durables(stream_name(source), durables_on(service, source))
    # The hub's copies of the municipal leaves' streams (``edges``: their domains), made by the
    # operator: read like the streams they copy, consumed where those are.
    for domain in edges:
        for source in SOURCES:
            api += js_read_stream(edge_stream_name(source, domain))
        for source in READS.get(service, ()):
            api += js_own_durables(edge_stream_name(source, domain), durables_on(service, source))
    for bucket in SHARED_BUCKETS:
        stream = f"KV_{bucket}"
        # Followers (``shared.revocations``) pull from ephemeral consumers; the bucket's changes
        # come by the KV subjects.
        api += [f"$JS.API.STREAM.CREATE.{stream}", *js_read_stream(stream), *js_consume_stream(stream)]
    return tuple(dict.fromkeys(api))
