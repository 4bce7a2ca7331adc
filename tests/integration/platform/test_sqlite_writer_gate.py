"""Writers of one SQLite file queue in the process (``shared.databases.WriterGate``).

A real view database in a temporary data folder, written from several threads as the commands,
catch-ups and consumers of one service write it: a writer waits for the one before it without
ever meeting SQLite's lock (and its busy handler's sleeps), readers never wait for writers, and
a transaction that fails lets the next writer in.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.databases import Sqlite
from shared.settings import Settings
from tests.conftest import wait_until

rows = sa.Table("rows", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = Sqlite(Settings(data_dir=tmp_path)).view_engine("pairing", secure_delete=False)
    rows.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_second_writer_waits_in_the_process_until_the_first_commits(engine: sa.Engine) -> None:
    first_wrote, release = threading.Event(), threading.Event()
    busy: list[BaseException] = []

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(rows.insert().values(n=1))
            first_wrote.set()
            release.wait(10)

    def second() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(rows.insert().values(n=2))
        except BaseException as exc:  # noqa: BLE001 - reported below
            busy.append(exc)

    holder = threading.Thread(target=first)
    holder.start()
    first_wrote.wait(10)
    waiter = threading.Thread(target=second)
    waiter.start()
    # The second writer is parked before SQLite: its statement has not reached the file.
    wait_until(lambda: not waiter.is_alive() or _parked(waiter), message="second writer parked")
    assert waiter.is_alive()
    with engine.connect() as reader:  # a reader meanwhile is not held up
        assert reader.execute(sa.select(sa.func.count()).select_from(rows)).scalar() == 0
    release.set()
    holder.join(10)
    waiter.join(10)
    assert busy == []
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(rows.c.n)).scalars()) == [1, 2]


def test_a_failed_transaction_lets_the_next_writer_in(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(rows.insert().values(n=1))
        conn.execute(rows.insert().values(n=1))
    done = threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.execute(rows.insert().values(n=3))
        done.set()

    threading.Thread(target=writer).start()
    assert done.wait(10)
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(rows.c.n)).scalars()) == [3]


def _parked(thread: threading.Thread) -> bool:
    """The thread waits on the gate's lock (in ``WriterGate._before_execute``)."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == "_before_execute":
            return True
        frame = frame.f_back
    return False
