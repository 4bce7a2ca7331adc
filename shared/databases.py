"""One small adapter per database: what differs between SQLite (embedded) and PostgreSQL
(distributed) — where the event store and the read models live, and how processes sharing them
take turns. Everything else is the same SQLAlchemy and eventsourcing code on both.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

import psycopg
import sqlalchemy as sa

from shared.settings import Settings


class Database(Protocol):
    def event_store_env(self, service: str) -> dict[str, str]:
        """The eventsourcing library's persistence settings for a service's event store."""

    def setup_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while one process creates tables, so that replicas starting together wait."""

    def view_engine(self, service: str, secure_delete: bool) -> sa.Engine:
        """The engine of a service's read models, positions and local tables."""


class EngineLocks(Protocol):
    def lock_view(self, conn: sa.Connection, key: str) -> None:
        """Until the transaction of ``conn`` ends, no other process catches the same view up."""

    def hold(self, engine: sa.Engine, *keys: str,
             shared: bool = False) -> contextlib.AbstractContextManager[None]:
        """One holder of each key at a time across every process sharing ``engine``'s database,
        the keys taken in the order given; ``shared``: any number of shared holders at once, but
        none while one holds it alone."""


#: The files SQLite keeps beside a database in WAL mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_sqlite(path: Path) -> Path:
    """Create the database file readable by its owner only, before SQLite opens it.

    The files hold personal data (sealed or not, their sizes and ids say a lot): not for every
    account of the host (issue 18, Low: they were 0644). SQLite creates the -wal and -shm files
    with the database's own mode; the chmod also mends files of an older installation.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for file in (path, *(path.with_name(path.name + c) for c in SQLITE_COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            file.chmod(0o600)
    return path


#: How long a writer waits for another one before its request is refused as "database is locked".
SQLITE_LOCK_TIMEOUT_SECONDS = 30


class Sqlite:
    """SQLite files in ``<data_dir>/<service>/``: processes on one machine, file locks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def event_store_env(self, service: str) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(private_sqlite(self.settings.service_dir(service) / "events.sqlite")),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        }

    @contextlib.contextmanager
    def setup_lock(self) -> Iterator[None]:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / ".schema-setup.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield

    def view_engine(self, service: str, secure_delete: bool) -> sa.Engine:
        path = private_sqlite(self.settings.service_dir(service) / "views.sqlite")
        engine = sa.create_engine(f"sqlite:///{path}",
                                  connect_args={"timeout": SQLITE_LOCK_TIMEOUT_SECONDS})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if secure_delete:
                cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        WriterGate.of(path).install(engine)
        return engine

    @staticmethod
    def lock_view(conn: sa.Connection, key: str) -> None:
        # Take the write lock before reading the position, not at the first insert: a reader
        # whose snapshot went stale while it waited could not upgrade to a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @staticmethod
    @contextlib.contextmanager
    def hold(engine: sa.Engine, *keys: str, shared: bool = False) -> Iterator[None]:
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        folder = Path(database).parent / "locks"
        folder.mkdir(mode=0o700, exist_ok=True)
        with contextlib.ExitStack() as files:
            for key in keys:
                lock_file = files.enter_context(open(folder / f"{key.strip('.')}.lock", "w"))
                fcntl.flock(lock_file, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield


class WriterGate:
    """One write transaction at a time per SQLite file within this process, queued in Python.

    SQLite lets one writer in; a second one, refused, sleeps in SQLite's busy handler on a fixed
    schedule (1, 2, 5, 10 … 100 ms) and looks again, however soon the first commits. With
    sixteen requests at once (a command's view catch-up, a pair's new keys, a consumer's batch,
    all in one file) most of a command's time went to those sleeps. Here a writer waits for this
    lock instead and starts the moment the one before it is done. The gate is taken at a
    connection's first write (or ``BEGIN IMMEDIATE``) and given back when the connection returns
    to the pool, committed or rolled back: readers never wait for it, and other processes on the
    same file still meet SQLite's own lock. A plain lock, not a re-entrant one: the pool may
    take a forgotten connection back on another thread.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
    #: One gate per file, whatever the number of engines on it (monitoring has two).
    _by_file: ClassVar[dict[Path, WriterGate]] = {}
    _made = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def of(cls, path: Path) -> WriterGate:
        with cls._made:
            return cls._by_file.setdefault(path.resolve(), cls())

    def install(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._before_execute)
        sa.event.listen(engine, "checkin", self._checkin)

    def _before_execute(self, conn: sa.Connection, _cursor: Any, statement: str,
                        parameters: Any, *_: Any) -> None:
        if conn.info.get("writer_gate") or not statement.lstrip()[:15].upper().startswith(self.WRITES):
            return
        # As long as SQLite itself would wait, and then the same refusal (a 503 to a request).
        if not self._lock.acquire(timeout=SQLITE_LOCK_TIMEOUT_SECONDS):
            raise sa.exc.OperationalError(statement, parameters,
                                          sqlite3.OperationalError("database is locked"))
        conn.info["writer_gate"] = True

    def _checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop("writer_gate", False):
            self._lock.release()


class Postgres:
    """One PostgreSQL database (each service's tables in the URL's schema): advisory locks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parts = settings.postgres_parts()

    def event_store_env(self, service: str) -> dict[str, str]:
        pg = self.parts
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg["dbname"],
            "POSTGRES_HOST": pg["host"],
            "POSTGRES_PORT": pg["port"],
            "POSTGRES_USER": pg["user"],
            "POSTGRES_PASSWORD": pg["password"],
            "POSTGRES_POOL_SIZE": str(self.settings.db_pool_size),
            # A pooled connection killed by a PostgreSQL restart is noticed before use.
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }
        if pg["schema"]:
            env["POSTGRES_SCHEMA"] = pg["schema"]
        return env

    @contextlib.contextmanager
    def setup_lock(self) -> Iterator[None]:
        pg = self.parts
        with psycopg.connect(host=pg["host"], port=int(pg["port"]), user=pg["user"],
                             password=pg["password"] or None, dbname=pg["dbname"],
                             autocommit=True) as conn:
            key = f"{pg['schema'] or 'public'}.schema-setup"
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def view_engine(self, service: str, secure_delete: bool) -> sa.Engine:
        pg = self.parts
        url = sa.URL.create(
            "postgresql+psycopg",
            username=pg["user"],
            password=pg["password"] or None,
            host=pg["host"],
            port=int(pg["port"]),
            database=pg["dbname"],
        )
        connect_args = {"options": f"-csearch_path={pg['schema']}"} if pg["schema"] else {}
        return sa.create_engine(url, connect_args=connect_args, pool_size=self.settings.db_pool_size,
                                pool_pre_ping=True)

    @staticmethod
    def lock_view(conn: sa.Connection, key: str) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :key))"),
                     {"key": key})

    @staticmethod
    @contextlib.contextmanager
    def hold(engine: sa.Engine, *keys: str, shared: bool = False) -> Iterator[None]:
        kind = "_shared" if shared else ""
        with engine.connect() as conn:
            taken = []
            try:
                for key in keys:  # one statement each: the order is the caller's
                    conn.execute(sa.text(
                        f"SELECT pg_advisory_lock{kind}(hashtext(current_schema() || :key))"),
                        {"key": key})
                    taken.append(key)
                yield
            finally:
                for key in reversed(taken):
                    conn.execute(sa.text(
                        f"SELECT pg_advisory_unlock{kind}(hashtext(current_schema() || :key))"),
                        {"key": key})
                conn.commit()


def database(settings: Settings) -> Database:
    """The adapter the settings choose: PostgreSQL when a database URL names one, else SQLite."""
    return Postgres(settings) if settings.uses_postgres else Sqlite(settings)


#: The locks of an engine already made, by its dialect.
ENGINE_LOCKS: dict[str, EngineLocks] = {"sqlite": Sqlite, "postgresql": Postgres}  # type: ignore[dict-item]


def engine_locks(engine: sa.Engine | sa.Connection) -> EngineLocks:
    return ENGINE_LOCKS[engine.dialect.name]


def create_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """``metadata``'s tables, created where missing, also while other processes (other services
    sharing one PostgreSQL schema, starting together) create the same ones."""
    try:
        metadata.create_all(engine)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
        # The other CREATE won between this one's look and its own, and has committed by the time
        # this one is refused: a second look finds the tables.
        metadata.create_all(engine)
