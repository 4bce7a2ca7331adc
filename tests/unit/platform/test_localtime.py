"""The region's local time: at 23:30 UTC it is already tomorrow in Moscow, and every date a user
reads (a pair's formation, an order's date, «Сегодня») says so."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.portal.templating import ru_date
from shared.localtime import format_date, format_datetime, local_today, today_in
from shared.settings import Settings

MOSCOW = ZoneInfo("Europe/Moscow")
LATE_EVENING_UTC = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # 02:30 on 07.12 in Moscow


def test_today_is_the_regions_date_not_the_servers() -> None:
    assert local_today(MOSCOW, lambda: LATE_EVENING_UTC) == date(2026, 12, 7)
    assert today_in(ZoneInfo("Asia/Vladivostok"), lambda: LATE_EVENING_UTC)() == date(2026, 12, 7)
    assert today_in(ZoneInfo("Europe/Kaliningrad"), lambda: LATE_EVENING_UTC)() == date(2026, 12, 7)
    assert local_today(ZoneInfo("UTC"), lambda: LATE_EVENING_UTC) == date(2026, 12, 6)


def test_shown_dates_and_times_are_local() -> None:
    assert format_date(LATE_EVENING_UTC, MOSCOW) == "07.12.2026"
    assert format_date("2026-12-06T23:30:00Z", MOSCOW) == "07.12.2026"
    assert format_date("2026-12-06", MOSCOW) == "06.12.2026"  # a date stays the date it is
    assert format_datetime("2026-12-06T23:30:00.000000Z", MOSCOW) == "07.12.2026 02:30"
    assert format_date(None) == "—" and format_datetime("") == "—"
    assert ru_date("2026-12-06T23:30:00Z") == "07.12.2026"


def test_the_zone_is_one_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).zone == MOSCOW
    assert Settings(data_dir=tmp_path, time_zone="Asia/Yekaterinburg").zone == ZoneInfo(
        "Asia/Yekaterinburg")
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, time_zone="Europe/Atlantis")
