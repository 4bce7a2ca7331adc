"""At 23:30 UTC it is 02:30 of the next day in Moscow: a pair formed then is dated by Moscow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.pairing.application import PairingService
from services.pairing.commands import FormPair
from services.pairing.config import PairingConfig
from shared.localtime import today_in
from shared.settings import Settings
from tests.unit.pairing.conftest import (
    MUNICIPALITY,
    REGION,
    SCHOOL_A,
    FakeRegistry,
    InMemoryStore,
    curator,
    memory_engine,
)

LATE_EVENING_UTC = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


@pytest.fixture
def late_pairing(tmp_path: Path) -> Iterator[PairingService]:
    settings = Settings(data_dir=tmp_path, region=REGION, token_secret="s" * 32)
    # The region's "today" on an injected clock: no waiting for midnight.
    service = PairingService(settings, today_in(settings.zone, lambda: LATE_EVENING_UTC),
                             PairingConfig(), events=InMemoryStore(), engine=memory_engine())
    yield service
    service.close()


def test_a_pair_formed_at_2330_utc_is_formed_on_the_moscow_date(
        late_pairing: PairingService) -> None:
    registry = FakeRegistry(late_pairing)
    registry.organisation(MUNICIPALITY, kind="municipality")
    registry.organisation(SCHOOL_A)
    mentor, mentee = registry.mentor(SCHOOL_A), registry.mentee(SCHOOL_A)
    pair_id = late_pairing.form_pair(curator(SCHOOL_A), FormPair(
        form="teacher-student", mentor_id=mentor, mentee_ids=[mentee]))
    pair = late_pairing.get_pair(curator(SCHOOL_A).actor, pair_id)
    assert pair["formed_on"] == "2026-12-07"  # not 06.12, the date in UTC
    assert late_pairing.settings.zone == ZoneInfo("Europe/Moscow")
