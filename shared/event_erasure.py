"""Erasing personal data from events already stored (152-ФЗ: withdrawal destroys every copy).

An event store is append-only, and events written since free text was sealed hold only
ciphertext, destroyed with the person's key. Events written before carry the text in the clear;
when a person withdraws consent those are rewritten in place: the text is replaced, nothing else
of the event changes (its id, version and position stay, so neither the aggregates nor the
outbox notice). The rewritten row's old bytes are overwritten in the SQLite file
(``secure_delete``, then a checkpoint empties the write-ahead log); PostgreSQL keeps the old
tuple until its vacuum, as it does for every deleted row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from shared.logging import get_logger

log = get_logger(__name__)

#: Given an event's name (the last part of its topic) and its decoded state, the state to store
#: instead, or None to leave the event as it is.
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def event_name(topic: str) -> str:
    """``services.pairing.domain:Pair.PlanGoalSet`` -> ``PlanGoalSet``."""
    return topic.rpartition(":")[2].rpartition(".")[2]


def rewrite_events(app: Application[UUID], originator_ids: Iterable[UUID], rewrite: Rewrite) -> int:
    """Rewrite the stored events of the aggregates; the number of events changed."""
    mapper = app.mapper
    if mapper.cipher is not None or mapper.compressor is not None:
        raise NotImplementedError("rewriting enciphered or compressed events")
    changed: list[tuple[UUID, int, bytes]] = []
    for originator_id in originator_ids:
        for stored in app.recorder.select_events(originator_id):
            state = mapper.transcoder.decode(stored.state)
            new = rewrite(event_name(stored.topic), state)
            if new is not None:
                changed.append((originator_id, stored.originator_version, mapper.transcoder.encode(new)))
    if changed:
        _update_states(app, changed)
    return len(changed)


def _update_states(app: Application[UUID], rows: list[tuple[UUID, int, bytes]]) -> None:
    recorder: Any = app.recorder
    datastore = recorder.datastore
    table = recorder.events_table_name
    if type(datastore).__module__.startswith("eventsourcing.sqlite"):
        with datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA secure_delete=ON")
            for originator_id, version, state in rows:
                cursor.execute(f"UPDATE {table} SET state=? WHERE originator_id=? "  # noqa: S608 - the library's own table name
                               "AND originator_version=?",
                               (state, originator_id.hex, version))
        # Best effort: a reader holding the log open defers it to the next checkpoint.
        with contextlib.suppress(Exception), datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    if not type(datastore).__module__.startswith("eventsourcing.postgres"):
        raise NotImplementedError(f"rewriting events in {type(datastore).__name__}")
    from psycopg.sql import SQL, Identifier

    statement = SQL("UPDATE {schema}.{table} SET state=%s WHERE originator_id=%s "
                    "AND originator_version=%s").format(schema=Identifier(datastore.schema),
                                                        table=Identifier(table))
    with datastore.transaction(commit=True) as cursor:
        for originator_id, version, state in rows:
            cursor.execute(statement, (state, originator_id, version))
