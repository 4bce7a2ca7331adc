"""The reporting calendar over a real NATS: as an injected clock crosses December's deadlines,
``ReportDue`` reaches the monitoring stream once per notice, and ``ReportSubmitted`` arriving on the
documents stream clears the report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import uuid4

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.monitoring.calendar import (
    CalendarConfig,
    CalendarTicker,
    Level,
    MonitoringCalendarStore,
    Notice,
)
from shared.auth import Actor, OrgPath, Role
from shared.bus import ensure_streams
from shared.contracts import Envelope, stream_name
from shared.events import ReportSubmitted, read_payload
from shared.nats_server import EmbeddedNats
from shared.relay import OutboxRelay
from shared.settings import Settings
from tests.conftest import async_wait_until

MONITORING = stream_name("monitoring")
ORGS: dict[Level, list[str]] = {
    "organisation": ["demo/m1/s1", "demo/m1/s2"],
    "municipality": ["demo/m1"],
}
S1 = "org:demo/m1/s1:2025-12-20"
S2 = "org:demo/m1/s2:2025-12-20"
M1 = "mun:demo/m1:2025-12-25"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 12, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set_day(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)  # noon in Moscow


@dataclass
class Calendar:
    store: MonitoringCalendarStore
    ticker: CalendarTicker
    clock: Clock
    js: JetStreamContext

    async def tick(self, day: date) -> list[str]:
        self.clock.set_day(day)
        notices: list[Notice] = await asyncio.to_thread(self.ticker.tick)
        await wait_for_stream(self.js, self.store.max_position())
        return [n.key for n in notices]

    async def submit(self, report_id: str, municipality: str, organisation: str | None) -> None:
        """What the documents service does when a report is submitted."""
        org = OrgPath(region="demo", municipality=municipality, organisation=organisation)
        envelope = Envelope(
            event_id=uuid4(), type="ReportSubmitted", schema_version=1,
            occurred_at=self.clock.now, org=org,
            actor=Actor(user="curator", role=Role.CURATOR, scope=org),
            correlation_id=uuid4(), source="documents", source_position=1,
            aggregate_id=uuid4(), aggregate_version=1,
            payload=ReportSubmitted(report_id=report_id, level="organisation",
                                    period="2025-H2").model_dump(mode="json"))
        await self.js.publish(envelope.subject, envelope.to_bytes())
        await async_wait_until(lambda: report_id in self.ticker.submitted,
                               message=f"{report_id} recorded as submitted")


@pytest.fixture
def store(settings: Settings) -> Iterator[MonitoringCalendarStore]:
    calendar_store = MonitoringCalendarStore(settings)
    yield calendar_store
    calendar_store.close()


@pytest.fixture
async def calendar(store: MonitoringCalendarStore,
                   fresh_nats: EmbeddedNats) -> AsyncIterator[Calendar]:
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)
    relay = OutboxRelay(store, js, batch=100, idle_seconds=0.05)
    clock = Clock()
    ticker = CalendarTicker(store, CalendarConfig(region="demo", start=date(2025, 9, 1)),
                            lambda: ORGS, clock, on_stored=relay.notify)
    result = Calendar(store, ticker, clock, js)

    async def on_document(msg: Msg) -> None:
        envelope = Envelope.from_bytes(msg.data)
        if envelope.type == "ReportSubmitted":
            payload = read_payload(envelope)
            assert isinstance(payload, ReportSubmitted)
            ticker.record_submitted(payload.report_id)
        await msg.ack()

    await js.subscribe("nastavnik.documents.>", stream=stream_name("documents"), cb=on_document,
                       manual_ack=True)
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    yield result
    stop.set()
    await relay_task
    await nc.close()


async def wait_for_stream(js: JetStreamContext, count: int, timeout: float = 20.0) -> None:
    """Until the relay has put every stored event on the stream (polling, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while (await js.stream_info(MONITORING)).state.messages < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} events on the monitoring stream")
        await asyncio.sleep(0.02)


async def stream_report_dues(js: JetStreamContext) -> list[tuple[str, str, str, int, bool]]:
    info = await js.stream_info(MONITORING)
    found = []
    for seq in range(1, info.state.last_seq + 1):
        envelope = Envelope.from_bytes((await js.get_msg(MONITORING, seq=seq)).data)
        if envelope.type == "ReportDue":
            p = envelope.payload
            found.append((envelope.subject, p["report_id"], p["deadline"], p["days_left"],
                          p["overdue"]))
    return found


async def test_report_due_is_emitted_once_and_cleared_by_report_submitted(
        calendar: Calendar) -> None:
    assert await calendar.tick(date(2025, 12, 1)) == []  # 19 days out: no reminder yet
    assert await calendar.tick(date(2025, 12, 6)) == [f"{S1}:14", f"{S2}:14"]
    assert await calendar.tick(date(2025, 12, 6)) == []  # same day again: nothing twice
    assert await calendar.tick(date(2025, 12, 13)) == [f"{S1}:7", f"{S2}:7", f"{M1}:14"]

    await calendar.submit(S1, "m1", "s1")
    # s1 submitted: its 0-day notice never comes; s2 and the municipality go on
    assert await calendar.tick(date(2025, 12, 20)) == [f"{S2}:0", f"{M1}:7"]
    assert await calendar.tick(date(2025, 12, 21)) == [f"{S2}:overdue"]
    assert [o.report.report_id for o in calendar.ticker.overdue(under="demo/m1")] == [S2]
    assert calendar.ticker.overdue(under="demo/m2") == []

    await calendar.submit(S2, "m1", "s2")
    assert calendar.ticker.overdue() == []
    assert await calendar.tick(date(2025, 12, 22)) == []  # the municipality's 7-day one is sent

    school = "nastavnik.monitoring.demo.m1.ReportDue"
    assert await stream_report_dues(calendar.js) == [
        (school, S1, "2025-12-20", 14, False),
        (school, S2, "2025-12-20", 14, False),
        (school, S1, "2025-12-20", 7, False),
        (school, S2, "2025-12-20", 7, False),
        (school, M1, "2025-12-25", 12, False),
        (school, S2, "2025-12-20", 0, False),
        (school, M1, "2025-12-25", 5, False),
        (school, S2, "2025-12-20", -1, True),
    ]
    first = Envelope.from_bytes((await calendar.js.get_msg(MONITORING, seq=1)).data)
    assert first.type == "ReportingCalendarOpened" and first.payload["year"] == 2025
    assert first.source == "monitoring" and first.actor.role is Role.SYSTEM
    assert (await calendar.js.stream_info(MONITORING)).state.messages == \
        calendar.store.max_position() == 9
