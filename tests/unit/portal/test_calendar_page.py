"""The reporting calendar in the portal: the region's operator sets each level's deadlines and
reminders as people write dates; everyone else reads them."""

from __future__ import annotations

import pytest

from services.portal.pages.calendar import deadlines_of, form_values
from shared.auth import Role
from shared.errors import DomainError
from tests.unit.portal.conftest import PortalUnderTest

CONFIG = {"region": "demo", "timezone": "Europe/Moscow", "start": "2025-09-01", "overdue_horizon_days": 366,
          "levels": {"organisation": {"deadlines": [{"due": "12-20", "period": "1"},
                                                    {"due": "05-31", "period": "2"}],
                                      "reminders": [14, 7, 1]},
                     "municipality": {"deadlines": [{"due": "12-25", "period": "1"},
                                                    {"due": "06-30", "period": "2"}], "reminders": [7]}}}


def test_dates_are_written_as_people_say_them() -> None:
    assert deadlines_of("20.12; 31.5") == ["12-20", "05-31"]
    assert form_values(CONFIG)["organisation"] == {"deadlines": "20.12, 31.05", "reminders": "14, 7, 1"}
    with pytest.raises(DomainError):
        deadlines_of("декабрь")


def test_the_region_saves_the_calendar_and_keeps_the_rest(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/monitoring/calendar", {"configured": True, "config": CONFIG, "reports": []})
    portal.api.on("PUT", "/monitoring/calendar", CONFIG)
    region = portal.client(Role.REGIONAL, "demo")
    page = region.get("/calendar").text
    assert 'value="20.12, 31.05"' in page and "Сохранить календарь" in page
    saved = region.post("/calendar", data={
        "organisation_deadlines": "15.12, 25.05", "organisation_reminders": "10, 1",
        "municipality_deadlines": "25.12, 30.06", "municipality_reminders": "7"})
    assert saved.headers["location"] == "/calendar?saved=1"
    assert portal.api.sent("PUT", "/monitoring/calendar") == [{
        "timezone": "Europe/Moscow", "start": "2025-09-01", "overdue_horizon_days": 366,
        "levels": {"organisation": {"deadlines": ["12-15", "05-25"], "reminders": [10, 1]},
                   "municipality": {"deadlines": ["12-25", "06-30"], "reminders": [7]}}}]
    municipal = portal.client(Role.MUNICIPAL, "demo/m1").get("/calendar").text
    assert "Сохранить календарь" not in municipal and "20.12, 31.05" in municipal
