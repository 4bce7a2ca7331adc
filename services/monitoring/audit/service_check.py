"""Every service's own event store, checked against what the audit log recorded.

The log holds each event's canonical envelope bytes under (source, source_position). Reading the
service's notification log again and mapping each notification to its envelope must give the
same bytes: an edit of a service's database (payload, actor, organisation, time) changes them,
a deleted row leaves a logged position without its event, a row slipped in later fills a
position the log never saw. Events stored but not yet logged are reported as lag, not as damage.

Only the public envelope is compared: fields a service keeps to itself (the ciphertext of
personal data) never reach the log, so an edit of those alone is outside what it can witness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eventsourcing.application import Application

from shared.contracts import SOURCES, Envelope
from shared.settings import Settings
from shared.store import ServiceApplication, event_store_env

from .store import AuditStore

EDITED_IN_SERVICE = "SERVICE_EVENT_EDITED"
DELETED_IN_SERVICE = "SERVICE_EVENT_DELETED"
INSERTED_IN_SERVICE = "SERVICE_EVENT_INSERTED"
STORE_MISSING = "SERVICE_STORE_MISSING"
#: The log and a service's store disagree and nothing outside the log (a witness's checkpoint
#: covering the entry) says the log is the untouched side: either may have been changed.
DIVERGED = "LOG_SERVICE_DIVERGED"


@dataclass(frozen=True)
class ServiceProblem:
    source: str
    position: int
    code: str
    message_ru: str

    log_position: int | None = None  # the audit log's entry compared, when there is one

    def __str__(self) -> str:
        return f"[{self.code}] {self.source}, позиция {self.position}: {self.message_ru}"

    def unproven(self, witnessed_size: int) -> ServiceProblem:
        """This finding as far as it is proven: a service is blamed only when the log's entry
        it was compared with is covered by a witness's checkpoint; otherwise the log itself
        (rewritten and re-signed with its own key) may be the changed side."""
        if self.code == STORE_MISSING or (
                self.log_position is not None and self.log_position <= witnessed_size):
            return self
        where = f"запись журнала {self.log_position}" if self.log_position else "журнал"
        return ServiceProblem(self.source, self.position, DIVERGED, (
            f"журнал аудита и хранилище сервиса расходятся ({self.message_ru}); изменена может "
            f"быть любая сторона — и {where}: журнал подтверждён лишь подписями своего ключа. "
            "Проверьте журнал по контрольным точкам свидетеля (--checkpoints, --witness-key)"),
            self.log_position)


@dataclass(frozen=True)
class ServiceReport:
    source: str
    compared: int
    pending: int  # stored by the service, not yet in the log
    problem: ServiceProblem | None = None
    present: bool = True

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Reader(ServiceApplication):
    """Reads a service's notification log without creating anything in its database."""

    def __init__(self, settings: Settings) -> None:
        env = {**event_store_env(settings, self.source), "CREATE_TABLE": "false"}
        Application.__init__(self, env=env)


def store_reader(settings: Settings, source: str) -> ServiceApplication | None:
    """A read-only view of ``source``'s event store, or None when it has none.

    The application's name decides its table names (``registry_events`` on PostgreSQL), so it
    follows the services' convention: ``Registry`` for ``registry``.
    """
    if not settings.uses_postgres and not (settings.data_dir / source / "events.sqlite").exists():
        return None
    name = source.capitalize()
    reader_class = type(f"{name}Reader", (_Reader,), {"name": name, "source": source})
    reader = reader_class(settings)
    try:
        reader.max_position()
    except Exception:  # noqa: BLE001 - any driver's "no such table" means there is no store
        reader.close()
        return None
    return reader


def _logged(store: AuditStore, conn: sa.Connection, source: str,
            batch: int = 5000) -> Iterator[tuple[int, bytes, int]]:
    t = store.entries
    last = -1
    while True:
        rows = conn.execute(
            sa.select(t.c.source_position, t.c.data, t.c.position)
            .where(t.c.source == source, t.c.source_position > last)
            .order_by(t.c.source_position).limit(batch)
        ).all()
        for position, data, log_position in rows:
            yield int(position), bytes(data), int(log_position)
        if len(rows) < batch:
            return
        last = int(rows[-1][0])


def _notifications(reader: ServiceApplication, batch: int = 1000) -> Iterator[Any]:
    position = 0
    while True:
        notifications = reader.notifications_after(position, batch)
        yield from notifications
        if len(notifications) < batch:
            return
        position = notifications[-1].id


def _envelope_bytes(reader: ServiceApplication, notification: Any) -> bytes | str:
    try:
        return reader.to_envelope(notification).to_bytes()
    except Exception as exc:  # noqa: BLE001 - an undecodable row is itself the finding
        return f"событие не читается: {type(exc).__name__}"


def _describe(source: str, position: int, logged: bytes, actual: bytes | str) -> ServiceProblem:
    if isinstance(actual, str):
        detail = actual
    else:
        detail = "содержимое отличается от записанного в журнал аудита"
        try:
            before, after = Envelope.from_bytes(logged), Envelope.from_bytes(actual)
            changed = sorted(k for k, v in before.model_dump().items()
                             if after.model_dump().get(k) != v)
            detail += f" (изменены поля: {', '.join(changed)})"
        except ValueError:
            pass
    return ServiceProblem(source, position, EDITED_IN_SERVICE,
                          f"событие в хранилище сервиса изменено: {detail}")


def _at(problem: ServiceProblem, entry: tuple[int, bytes, int] | None) -> ServiceProblem:
    return problem if entry is None else dataclasses.replace(problem, log_position=entry[2])


def check_source(store: AuditStore, conn: sa.Connection, settings: Settings,
                 source: str) -> ServiceReport:
    """Merge the service's notifications with the log's entries of that source, in order."""
    logged = _logged(store, conn, source)
    reader = store_reader(settings, source)
    if reader is None:
        first = next(logged, None)
        if first is None:
            return ServiceReport(source, 0, 0, present=False)
        return ServiceReport(source, 0, 0, ServiceProblem(
            source, first[0], STORE_MISSING,
            "хранилище событий сервиса не найдено, а журнал аудита содержит его события"),
            present=False)
    compared = pending = 0
    try:
        entry = next(logged, None)
        for notification in _notifications(reader):
            if entry is None:
                pending += 1  # not logged yet: the feeder lags behind, nothing is wrong
                continue
            if notification.id > entry[0]:
                return ServiceReport(source, compared, pending, _at(ServiceProblem(
                    source, entry[0], DELETED_IN_SERVICE,
                    "событие записано в журнал аудита, но в хранилище сервиса его нет (удалено)"),
                    entry))
            if notification.id < entry[0]:
                return ServiceReport(source, compared, pending, _at(ServiceProblem(
                    source, notification.id, INSERTED_IN_SERVICE,
                    "событие есть в хранилище сервиса, но журнал аудита его не получал "
                    "(вставлено задним числом)"), entry))
            actual = _envelope_bytes(reader, notification)
            if actual != entry[1]:
                return ServiceReport(source, compared, pending,
                                     _at(_describe(source, entry[0], entry[1], actual), entry))
            compared += 1
            entry = next(logged, None)
        if entry is not None:
            return ServiceReport(source, compared, pending, _at(ServiceProblem(
                source, entry[0], DELETED_IN_SERVICE,
                "событие записано в журнал аудита, но в хранилище сервиса его нет (удалено)"),
                entry))
        # A store that has never held an event (created at start, nothing stored) has nothing
        # to compare: listed like an absent one.
        return ServiceReport(source, compared, pending, present=bool(compared or pending))
    finally:
        reader.close()


def check_services(store: AuditStore, settings: Settings,
                   sources: tuple[str, ...] = SOURCES) -> list[ServiceReport]:
    with store.engine.connect() as conn:
        return [check_source(store, conn, settings, source) for source in sources]


def summary(reports: list[ServiceReport]) -> str:
    present = [r for r in reports if r.present]
    if not present:
        return "хранилищ сервисов для сверки нет"
    parts = [f"{r.source}: {r.compared}" + (f" (+{r.pending} ещё не в журнале)" if r.pending else "")
             for r in present]
    return "хранилища сервисов совпадают с журналом — " + ", ".join(parts)
