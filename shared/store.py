"""Persistence for every service: the event store (eventsourcing) and the read-model database.

SQLite files in ``<data_dir>/<service>/`` by default; PostgreSQL when ``NASTAVNIK_DATABASE_URL``
says so (each service's tables in the schema of the URL, or in its own tables' prefix).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4, uuid5

import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import IntegrityError, Notification

from shared.auth import Actor, OrgPath
from shared.contracts import Envelope
from shared.databases import database, engine_locks
from shared.errors import DomainError, conflict
from shared.events import public_payload, schema_version
from shared.logging import get_logger
from shared.metrics import error
from shared.settings import Settings

__all__ = ["MAX_EVENT_BYTES", "CommandContext", "EventSourcedAggregate", "EventSourcedService",
           "ServiceApplication", "check_publishable", "dispatch", "schema_setup_lock", "view_engine"]

log = get_logger(__name__)


class CommandContext:
    """What every command carries besides its data: who acts and which chain of work it is in."""

    def __init__(
        self, actor: Actor, correlation_id: UUID | None = None, causation_id: UUID | None = None
    ) -> None:
        self.actor = actor
        self.correlation_id = correlation_id or uuid4()
        self.causation_id = causation_id

    def meta(self, org: OrgPath) -> dict[str, Any]:
        return {
            "actor": self.actor.model_dump(mode="json"),
            "org": org.model_dump(mode="json"),
            "correlation_id": str(self.correlation_id),
            "causation_id": str(self.causation_id) if self.causation_id else None,
        }


class EventSourcedAggregate(Aggregate):
    """Every event of every aggregate carries ``meta``: actor, org path, correlation, causation."""

    class Event(Aggregate.Event):
        meta: dict[str, Any]

    class Created(Event, Aggregate.Created):
        pass


def event_id_of(aggregate_id: UUID, version: int) -> UUID:
    """Deterministic, so a re-published event keeps its id (and its JetStream de-dup key)."""
    return uuid5(aggregate_id, str(version))


class ServiceApplication(Application[UUID]):
    """An eventsourcing application whose notification log is the service's outbox."""

    source: str = ""

    def __init__(self, settings: Settings) -> None:
        super().__init__(env=event_store_env(settings, self.source or self.name.lower()))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Store the objects' pending events, refusing first any that could never be published.

        Stored events are published in order, so one the bus refuses (larger than NATS's
        ``max_payload``) would hold every later event of the service back for good: it is
        refused here, before anything is stored, with a clear 4xx.
        """
        for event in _pending_events(objs):
            check_publishable(self.source, event)
        return super().save(*objs, **kwargs)

    def notifications_after(self, position: int, limit: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def to_envelope(self, notification: Notification) -> Envelope:
        event = self.mapper.to_domain_event(notification)
        return envelope_of(self.source, notification.id, event)

    def envelopes_after(self, position: int, limit: int) -> Iterator[Envelope]:
        for notification in self.notifications_after(position, limit):
            yield self.to_envelope(notification)


class LocalView(Protocol):
    """A service's own read model: where it got to in the event store, and how it applies events."""

    def current_position(self, conn: sa.Connection) -> int: ...

    def apply_events(self, conn: sa.Connection,
                     events: list[tuple[int, CanMutateAggregate[UUID]]]) -> None: ...


Target = TypeVar("Target")
T = TypeVar("T")


def dispatch(handlers: Mapping[str, Callable[[Target, Any], None]], target: Target,
             events: Iterable[tuple[int, CanMutateAggregate[UUID]]]) -> None:
    """Hand each (position, event) to the handler named after the event's type, in order.

    A view lists only the types it projects; any other type (a newer event, another view's) is
    passed over, so adding an event never breaks an older view. ``target`` is what the handlers
    write to: the view's connection, or a batch over it.
    """
    for _, event in events:
        handler = handlers.get(type(event).__name__)
        if handler is not None:
            handler(target, event)


#: Attempts of a command that lost a race for an aggregate's version before it is refused.
COMMAND_ATTEMPTS = 12


#: Scopes share this many locks: a bounded set of lock files, whatever the number of people;
#: two scopes in one bucket only wait for each other a little more often.
SCOPE_BUCKETS = 4096


def scope_bucket(scope: str) -> int:
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:4], "big") % SCOPE_BUCKETS


def concurrent_change() -> DomainError:
    return conflict("CONCURRENT_CHANGE", "Эти данные одновременно изменяет другой запрос: "
                    "повторите действие через несколько секунд")


class EventSourcedService:
    """The plumbing every service layer shares: save events, catch the local view up, wake the relay.

    The view follows the service's own notification log (position and rows in one transaction),
    so after a command returns its effect is visible, and a crash between the two only delays it.

    Commands of all replicas run at once. Each reads the aggregates it changes from the store
    and saves them against the versions it read: of two commands racing for one aggregate the
    second is refused by the store and runs again (``retrying``) on what the first stored. A
    rule across aggregates is a claim the database enforces (a unique key), or is checked under
    a lock scoped to the units that hold it (``exclusive``: a mentee, a mentor, an
    organisation's numbering), never the whole service, with the view caught up inside.
    """

    def __init__(self, events: ServiceApplication, engine: sa.Engine, view: LocalView) -> None:
        self.events = events
        self.engine = engine
        self.view = view
        self.on_stored: Callable[[], None] = lambda: None
        self._lock = threading.RLock()
        self._held = threading.local()
        # The view's position when this process last caught it up: it only grows (another
        # replica's catch-up moves it further), so a command whose events lie at or below it
        # finds them applied without a transaction of its own.
        self._view_position = 0

    def close(self) -> None:
        self.events.close()
        self.engine.dispose()

    def catch_up(self, to: int | None = None) -> None:
        """Apply to the view what the store holds beyond it; ``to``: done once the view holds
        that position. Commands finishing together then share one catch-up: the first applies
        every event stored so far, the others find theirs applied when the lock comes free."""
        if to is not None and self._view_position >= to:
            return
        with self._lock:
            if to is not None and self._view_position >= to:
                return
            with self.engine.begin() as conn:
                self._exclude_other_replicas(conn)
                position = self.view.current_position(conn)
                while True:
                    notifications = self.events.notifications_after(position, 1000)
                    if not notifications:
                        break
                    events = [(n.id, self.events.mapper.to_domain_event(n)) for n in notifications]
                    self.view.apply_events(conn, events)
                    position = notifications[-1].id
            # Committed: only now may a command count on the rows.
            self._view_position = max(self._view_position, position)

    def _exclude_other_replicas(self, conn: sa.Connection) -> None:
        """Replicas sharing one PostgreSQL view would otherwise both apply the same events and the
        slower one would fail on the rows the faster one inserted; the lock ends with the transaction."""
        engine_locks(conn).lock_view(conn, f".{self.events.source}.view")

    def _save(self, *aggregates: Any) -> None:
        recordings = self.events.save(*aggregates)
        self._after_stored(max((r.notification.id for r in recordings), default=0))

    def _after_stored(self, position: int | None = None) -> None:
        """Once events are stored the command has happened, whatever the view does next.

        A failing catch-up must not answer the client with an error: it would retry a command
        that succeeded and store it twice. The view is only late; the next command or start
        retries the catch-up, and the relay is woken either way.
        """
        try:
            self.catch_up(to=position)
        except Exception as exc:  # noqa: BLE001 - logged and counted; the events are stored
            log.error("store.catch_up_failed", source=self.events.source, error=repr(exc))
            error("catch_up", exc)
        finally:
            self.on_stored()

    def fresh(self, read: Callable[[], T]) -> T:
        """``read`` from the view, caught up first if it found nothing: a row another replica
        stored a moment ago (the client's previous command) is found, not refused."""
        try:
            return read()
        except DomainError as exc:
            if exc.status != 404:
                raise
        self.catch_up()
        return read()

    def retrying(self, command: Callable[[], T]) -> T:
        """Run ``command`` again, on what is stored now, while another command (a replica, a
        thread) saved one of its aggregates first; refused with a 409 after ``COMMAND_ATTEMPTS``.

        ``command`` must read what it changes afresh on each run and store nothing before its
        one ``save``.
        """
        for attempt in range(COMMAND_ATTEMPTS):
            try:
                return command()
            except IntegrityError:
                # Jittered and growing: racers that met once should not meet again at once.
                time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.1)))  # noqa: S311
        log.warning("store.command_contended", source=self.events.source)
        raise concurrent_change()

    @contextlib.contextmanager
    def exclusive(self, *scopes: str) -> Iterator[None]:
        """One command at a time per scope (a mentee, a mentor, an organisation) across every
        process sharing this service's store, with the view caught up on what the others stored
        first: a rule that only the view can check (a mentee in no other pair, a mentor's free
        places, a document's number free in its organisation) then holds until the save.
        Commands on other scopes run meanwhile.

        PostgreSQL: session advisory locks keyed by each scope's hash, on one connection;
        SQLite: a lock file per scope next to the view. Taken in one order everywhere, so two
        commands wanting the same scopes never wait for each other crosswise. Re-entrant
        within the holding thread.
        """
        held: set[str] = self._held.__dict__.setdefault("scopes", set())
        wanted = sorted(set(scopes) - held)
        if not wanted:
            yield
            return
        keys = {f".{self.events.source}.commands.{scope_bucket(s)}" for s in wanted}
        with engine_locks(self.engine).hold(self.engine, *sorted(keys)):
            held.update(wanted)
            try:
                self.catch_up()
                yield
            finally:
                held.difference_update(wanted)

    def sharing_start_up(self) -> contextlib.AbstractContextManager[None]:
        """Held (shared: commands do not wait for each other) by a command that reserves
        something before its save, and held alone by ``start_up_alone``: the start-up clean-up
        then never takes a running command's reservation for a crash's leftover."""
        return engine_locks(self.engine).hold(self.engine, f".{self.events.source}.start",
                                              shared=True)

    def start_up_alone(self) -> contextlib.AbstractContextManager[None]:
        return engine_locks(self.engine).hold(self.engine, f".{self.events.source}.start")


#: Largest envelope a service may store: half of NATS's default ``max_payload`` (1 MiB), so
#: the message headers and a server configured a little tighter still leave room.
MAX_EVENT_BYTES = 512 * 1024


def event_too_large(event_type: str, size: int) -> DomainError:
    refusal = DomainError(
        "EVENT_TOO_LARGE",
        "Слишком большой объём данных в одной записи: сократите текст или списки "
        f"(не более {MAX_EVENT_BYTES // 1024} КБ)", 413)
    refusal.details = [{"event": event_type, "bytes": size, "max_bytes": MAX_EVENT_BYTES}]
    return refusal


def check_publishable(source: str, event: Any) -> None:
    """Refuse an event whose envelope on the bus would exceed ``MAX_EVENT_BYTES``."""
    if not isinstance(getattr(event, "meta", None), dict):
        return  # not one of ours (no actor, no path): the relay reports it in its own way
    if _size_bound(vars(event)) + ENVELOPE_OVERHEAD_BYTES <= MAX_EVENT_BYTES:
        return  # the common case, without encoding every event of a bulk import twice
    try:
        # The real position is not known before the save; the largest one is assumed.
        size = len(envelope_of(source, 2**63 - 1, event).to_bytes())
    except LookupError:
        return  # not in the catalogue: the relay refuses it by its type, not its size
    if size > MAX_EVENT_BYTES:
        raise event_too_large(type(event).__name__, size)


#: The envelope's own fields (ids, type, times, positions) around the event's data.
ENVELOPE_OVERHEAD_BYTES = 1024


def _size_bound(value: Any) -> int:
    """An upper bound of ``value``'s size in the envelope's JSON: every character of a string
    counted as an escape sequence (6 bytes), every other scalar as 64."""
    if isinstance(value, str):
        return 6 * len(value) + 2
    if isinstance(value, dict):
        return 2 + sum(_size_bound(k) + _size_bound(v) + 2 for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 2 + sum(_size_bound(item) + 1 for item in value)
    return 64


def _pending_events(objs: Iterable[Any]) -> Iterator[Any]:
    for obj in objs:
        if obj is None:
            continue
        pending = getattr(obj, "pending_events", None)
        if pending is None:
            yield obj  # an event saved on its own
        else:
            yield from pending


def envelope_of(source: str, position: int, event: CanMutateAggregate[UUID]) -> Envelope:
    event_type = type(event).__name__
    fields = {
        k: v
        for k, v in event.__dict__.items()
        if k not in ("originator_id", "originator_version", "timestamp", "meta", "originator_topic")
    }
    meta = event.meta  # type: ignore[attr-defined]
    timestamp: datetime = event.timestamp
    return Envelope(
        event_id=event_id_of(event.originator_id, event.originator_version),
        type=event_type,
        schema_version=schema_version(event_type),
        occurred_at=timestamp.astimezone(UTC),
        org=OrgPath.model_validate(meta["org"]),
        actor=Actor.model_validate(meta["actor"]),
        correlation_id=UUID(meta["correlation_id"]),
        causation_id=UUID(meta["causation_id"]) if meta.get("causation_id") else None,
        source=source,
        source_position=position,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        payload=public_payload(event_type, fields),
    )


def event_store_env(settings: Settings, service: str) -> dict[str, str]:
    return database(settings).event_store_env(service)


def schema_setup_lock(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """Replicas starting together on an empty store would race on CREATE TABLE and the demo
    accounts, and one would exit; while one process sets up, the others wait for it."""
    return database(settings).setup_lock()


def view_engine(settings: Settings, service: str, *, secure_delete: bool = False) -> sa.Engine:
    """The SQLAlchemy engine for a service's read models, positions and local tables.

    ``secure_delete`` (SQLite): deleted rows are overwritten with zeros, not merely unlinked,
    for tables whose deleted content must not be recoverable from the file (destroyed keys).
    """
    return database(settings).view_engine(service, secure_delete)
