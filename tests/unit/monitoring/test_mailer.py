"""The mailer against a real SMTP server (aiosmtpd on 127.0.0.1): a notification is mailed to
each account of its audience once, a second pass sends nothing, and an address the server will
never take is passed over without holding up the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from icalendar import Calendar
from pydantic import ValidationError

from services.monitoring.notifications import rules
from services.monitoring.notifications.mailer import Mailer, meeting_calendar
from services.monitoring.notifications.store import create_tables, insert_new, outbox
from shared.nats_server import free_port
from shared.settings import Settings

AUDIENCE = "role:curator:demo/m1/s1"


class RefusingMailbox(Mailbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.startswith("bad@"):
            return "550 5.1.1 нет такого ящика"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_each_account_is_mailed_once_and_a_refused_address_holds_up_nobody(
        tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    create_tables(engine)
    notice = rules.Notification(uuid4(), AUDIENCE, "report_due", "Срок сдачи отчёта — 20.12.2025",
                                "Отчёт нужно сдать до 20.12.2025.", "demo/m1/s1", uuid4())
    with engine.begin() as conn:
        insert_new(conn, [notice], mail=True, now=datetime.now(UTC))
    port = free_port()
    controller = Controller(RefusingMailbox(str(tmp_path / "mail")), hostname="127.0.0.1",
                            port=port)
    controller.start()
    try:
        settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)

        async def resolve(audiences: list[str]) -> dict[str, list[dict[str, str]]]:
            return {AUDIENCE: [{"login": "bad", "email": "bad@school.ru"},
                               {"login": "good", "email": "good@school.ru"}]}

        mailer = Mailer(engine, settings, resolve)
        assert await mailer.send_pending() == 1
        with engine.begin() as conn:  # as if the outbox row had survived a crash
            conn.execute(outbox.insert().values(notification_id=notice.id, attempts=0))
        assert await mailer.send_pending() == 0  # recorded deliveries are not repeated
        caught = list((tmp_path / "mail" / "new").iterdir())
        assert len(caught) == 1 and "good@school.ru" in caught[0].read_text()
    finally:
        controller.stop()


async def test_a_letter_links_to_its_page_only_when_the_portal_address_is_known(
        tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    create_tables(engine)
    pair = uuid4()
    inactive = rules.pair_inactive(pair, "demo/m1/s1", None, 30)
    port = free_port()
    controller = Controller(Mailbox(str(tmp_path / "mail")), hostname="127.0.0.1", port=port)
    controller.start()

    async def resolve(audiences: list[str]) -> dict[str, list[dict[str, str]]]:
        return {a: [{"login": "curator", "email": "curator@school.ru"}] for a in audiences}

    def letters() -> list[str]:
        """The plain text of every letter the server took."""
        found = []
        for path in (tmp_path / "mail" / "new").iterdir():
            part = message_from_bytes(path.read_bytes(), policy=default).get_body(("plain",))
            assert part is not None
            found.append(str(part.get_content()))  # type: ignore[attr-defined]
        return found

    try:
        with engine.begin() as conn:
            insert_new(conn, inactive, mail=True, now=datetime.now(UTC))
        # No address set (a service run on its own): no link at all, never a guessed one.
        unknown = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        assert await Mailer(engine, unknown, resolve).send_pending() == 1
        (body,) = letters()
        assert "Открыть в портале" not in body and "http" not in body
        assert body.rstrip().endswith("«Учётная запись» портала.")

        # The public address, as typed with a trailing slash: one link to the pair's page.
        notice = rules.Notification(uuid4(), AUDIENCE, "report_due", "Срок", "Сдайте отчёт.",
                                    "demo/m1/s1", uuid4(), link="")
        with engine.begin() as conn:
            insert_new(conn, [notice, *rules.pair_inactive(uuid4(), "demo/m1/s1", None, 60)],
                       mail=True, now=datetime.now(UTC))
        known = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                         portal_url="https://nastavnik.region.ru/")
        assert await Mailer(engine, known, resolve).send_pending() == 2
        linked = [b for b in letters() if "Открыть в портале" in b]
        assert len(linked) == 2
        assert any("Открыть в портале: https://nastavnik.region.ru/pairs/" in b for b in linked)
        # A notification with no page of its own leads to the list of notifications.
        assert any("Открыть в портале: https://nastavnik.region.ru/notifications\n" in b
                   for b in linked)
        assert all("«Учётная запись» портала: https://nastavnik.region.ru/account." in b
                   for b in linked)
    finally:
        controller.stop()


def test_a_mistyped_portal_address_stops_the_start(tmp_path: Path) -> None:
    for wrong in ("nastavnik.region.ru", "ftp://nastavnik.region.ru", "https://"):
        with pytest.raises(ValidationError, match="NASTAVNIK_PORTAL_URL"):
            Settings(data_dir=tmp_path, portal_url=wrong)


@pytest.mark.parametrize(("recorded_utc", "starts", "ends"), [
    ("2026-12-08T09:30:00+00:00", "11:45", "12:30"),  # 12:30 in Moscow: ends then
    ("2026-12-07T21:20:00+00:00", "00:00", "00:45"),  # 00:20 in Moscow: kept on its own day
])
def test_a_meeting_recorded_on_its_day_is_placed_on_that_day(recorded_utc: str, starts: str,
                                                             ends: str) -> None:
    zone = ZoneInfo("Europe/Moscow")
    meeting = {"pair_id": str(uuid4()), "number": 1, "date": "2026-12-08",
               "recorded_at": recorded_utc, "duration_minutes": 45}
    ics = meeting_calendar(meeting, "Встреча № 1", "Знакомство", zone)
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=3)
    assert (start.date().isoformat(), f"{start:%H:%M}", f"{end:%H:%M}") == ("2026-12-08", starts, ends)
