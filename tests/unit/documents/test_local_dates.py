"""An order issued at 23:30 UTC (02:30 in Moscow) is dated by the Moscow date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from services.documents.application import DocumentsService
from services.documents.commands import PairsOrderIn
from shared.auth import Actor, OrgPath, Role
from shared.contracts import PairFound
from shared.localtime import today_in
from shared.settings import Settings
from shared.store import CommandContext
from tests.unit.documents.fakes import SECRET, FakePeers, MemoryStore, person

SCHOOL_A = "demo/m1/school-a"
SCHOOL_ID, MENTOR, MENTEE = uuid4(), uuid4(), uuid4()
LATE_EVENING_UTC = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


@pytest.fixture
def peers() -> FakePeers:
    return FakePeers(people={MENTOR: person("Кузнецов Пётр Андреевич", SCHOOL_ID),
                             MENTEE: person("Орлов Егор Ильич", SCHOOL_ID, "mentee")})


@pytest.fixture
def late_documents(tmp_path: Path, peers: FakePeers) -> Iterator[DocumentsService]:
    settings = Settings(data_dir=tmp_path, token_secret=SECRET)
    engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
    service = DocumentsService(settings, today_in(settings.zone, lambda: LATE_EVENING_UTC),
                               peers, events=MemoryStore(), engine=engine)
    yield service
    service.close()


async def test_an_order_at_2330_utc_is_dated_by_moscow(late_documents: DocumentsService,
                                                      peers: FakePeers) -> None:
    pair = uuid4()
    peers.pairs_formed[pair] = PairFound(
        status="active", organisation_id=SCHOOL_ID, path=SCHOOL_A, form="teacher-student",
        form_title="Учитель – ученик", mentor_id=MENTOR, mentee_ids=[MENTEE])
    order = PairsOrderIn.model_validate({
        "organisation_name": "МБОУ «Средняя школа № 1»", "place": "г. Озёрск",
        "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
        "org": SCHOOL_A, "school_year": "2026-2027", "pairs": [{"pair_id": str(pair)}]})
    ctx = CommandContext(Actor(user="tester", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A)))
    issued = await late_documents.issue_pairs_order(ctx, order)
    assert issued["date"] == "2026-12-07"  # UTC would say 06.12
