"""One adapter per database: the settings choose it, an engine's dialect finds its locks."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shared.databases import Postgres, Sqlite, database, engine_locks
from shared.settings import Settings


def test_sqlite_by_default_with_files_in_the_data_folder(tmp_path: Path) -> None:
    chosen = database(Settings(data_dir=tmp_path))
    assert isinstance(chosen, Sqlite)
    env = chosen.event_store_env("registry")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "registry" / "events.sqlite")
    engine = chosen.view_engine("registry", secure_delete=False)
    assert engine.url.database == str(tmp_path / "registry" / "views.sqlite")
    assert engine_locks(engine) is Sqlite
    engine.dispose()


def test_postgresql_when_the_url_names_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://app:s%40cret@db:5433/region?schema=r77")
    chosen = database(settings)
    assert isinstance(chosen, Postgres)
    env = chosen.event_store_env("pairing")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"]) == ("db", "5433", "app")
    assert (env["POSTGRES_PASSWORD"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == (
        "s@cret", "region", "r77")
    engine = chosen.view_engine("pairing", secure_delete=False)
    assert engine.dialect.name == "postgresql" and engine.url.host == "db"
    assert engine_locks(engine) is Postgres
    engine.dispose()


def test_sqlite_processes_take_turns_through_a_lock_file_per_scope(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'views.sqlite'}")
    with Sqlite.hold(engine, ".documents.commands.a"), Sqlite.hold(engine, ".documents.commands.b"):
        # Two scopes held at once by one holder: neither waits for the other.
        assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == [
            "documents.commands.a.lock", "documents.commands.b.lock"]
    with Sqlite.hold(engine, ".registry.start", shared=True), \
            Sqlite.hold(engine, ".registry.start", shared=True):
        pass  # shared holders do not wait for each other either
    engine.dispose()
