"""What other accounts of the same host can reach (issue 18, Low): the databases were 0644 and
the NATS monitor answered on every interface."""

from __future__ import annotations

import stat
from pathlib import Path

import sqlalchemy as sa

from shared.databases import database
from shared.nats_server import EmbeddedNats
from shared.settings import Settings, read_or_create_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_databases_and_secrets_are_the_owners_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = database(settings)
    events = Path(db.event_store_env("registry")["SQLITE_DBNAME"])
    engine = db.view_engine("registry", secure_delete=True)
    with engine.begin() as conn:  # WAL mode: the -wal and -shm files now exist
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        views = Path(str(engine.url.database))
        companions = [views.with_name(views.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in companions)
        assert {p.name: mode(p) for p in (events, views, *companions)} == {
            p.name: 0o600 for p in (events, views, *companions)}
    engine.dispose()
    assert mode(settings.service_dir("registry")) == 0o700
    read_or_create_secret(settings.secrets_dir / "token.key")
    assert mode(settings.secrets_dir / "token.key") == 0o600


def test_a_database_of_an_older_installation_is_closed_on_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    old = settings.service_dir("pairing") / "views.sqlite"
    old.touch(mode=0o644)
    old.chmod(0o644)
    database(settings).view_engine("pairing", secure_delete=False).dispose()
    assert mode(old) == 0o600


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_embedded_nats_monitor_listens_on_loopback_only(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as nats:
        # 0100007F is 127.0.0.1 as /proc writes it; 00000000 would be every interface.
        assert listening_addresses(nats.monitor_port) == {"0100007F"}
        assert listening_addresses(nats.port) == {"0100007F"}
