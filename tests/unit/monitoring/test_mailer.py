"""The mailer against a real SMTP server (aiosmtpd on 127.0.0.1): a notification is mailed to
each account of its audience once, a second pass sends nothing, and an address the server will
never take is passed over without holding up the others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from services.monitoring.notifications import rules
from services.monitoring.notifications.mailer import Mailer
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
