"""Mail: the outbox of notifications emptied to the region's SMTP server.

Addresses are never kept here: for each notification the audience is resolved over RPC by the
registry (where personal data lives, sealed at rest) at send time, so an address changed, a
person who switched mail off or withdrew consent is honoured at once. Each message handed to the
server is recorded per (notification, account) before the outbox row goes, so a restart sends
nothing twice; the one window left (the server accepted, the process died before recording) is
covered by the stable ``Message-ID``, by which mail systems drop the duplicate. Logs say ids and
counts, never an address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import smtplib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from icalendar import Calendar, Event

from services.monitoring.notifications.store import deliveries, notifications, outbox
from shared.localtime import to_local
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

#: Audience → the accounts to mail: ``[{"login", "email"}]`` (the registry's answer).
Resolve = Callable[[list[str]], Awaitable[dict[str, list[dict[str, str]]]]]
FOOTER = ("\n\n—\nЭто письмо отправила система «Наставник». Письма можно отключить на странице "
          "«Учётная запись» портала{account}.")
#: A notification with no page of its own is read in the portal's list of notifications.
NOTIFICATIONS_PAGE = "/notifications"
#: Said in the letter only: the portal shows the same notification with no attachment.
ATTACHED = " Встреча во вложении — для вашего календаря."
BATCH = 50


def message_id(notification_id: UUID, login: str) -> str:
    # The login is hashed: headers travel through mail systems and their logs.
    digest = hashlib.sha256(login.encode()).hexdigest()[:16]
    return f"<{notification_id}.{digest}@nastavnik>"


def meeting_calendar(meeting: dict[str, Any], title: str, body: str, zone: ZoneInfo) -> bytes:
    """The meeting as an iCalendar entry in the region's time: the pairing keeps the meeting's
    date only, so a meeting recorded on its day is placed as ending when it was recorded (or,
    recorded in its day's first minutes, as starting at midnight: never on the day before); one
    recorded later is a whole-day entry."""
    held = datetime.fromisoformat(meeting["date"]).date()
    recorded = to_local(datetime.fromisoformat(meeting["recorded_at"]), zone)
    event = Event()
    event.add("uid", f"meeting-{meeting['pair_id']}-{meeting['number']}@nastavnik")
    event.add("summary", f"Наставничество: {title}")
    event.add("description", body)
    event.add("dtstamp", datetime.now(UTC))
    if recorded.date() == held:
        length = timedelta(minutes=int(meeting["duration_minutes"]))
        end = recorded.replace(second=0, microsecond=0)
        start = end - length
        if start.date() != held:
            start = end.replace(hour=0, minute=0)
            end = start + length
        event.add("dtstart", start)
        event.add("dtend", end)
    else:
        event.add("dtstart", held)
    calendar = Calendar()
    calendar.add("prodid", "-//Nastavnik//Notifications//RU")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def portal_link(portal_url: str, path: str) -> str:
    """``path`` (a page of the portal) at its public address; "" with no address known."""
    if not portal_url:
        return ""
    # Ids and fixed words only today, but a path is quoted so a letter never carries a broken URL.
    return portal_url + quote(path if path.startswith("/") else "/" + path, safe="/#?=&-_.~")


def letter(row: sa.Row[Any], portal_url: str) -> str:
    """The letter's text: what the bell says, the page to deal with it and the footer."""
    text = row.body + (ATTACHED if row.meeting else "")
    page = portal_link(portal_url, row.link or NOTIFICATIONS_PAGE)
    if page:
        text += f"\n\nОткрыть в портале: {page}"
    account = portal_link(portal_url, "/account")
    return text + FOOTER.format(account=f": {account}" if account else "")


def compose(row: sa.Row[Any], login: str, address: str, sender: str, zone: ZoneInfo,
            portal_url: str = "") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = row.title
    message["From"] = sender
    message["To"] = address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(row.id, login)
    message.set_content(letter(row, portal_url))
    if row.meeting:
        message.add_attachment(meeting_calendar(row.meeting, row.title, row.body, zone),
                               maintype="text", subtype="calendar", filename="meeting.ics",
                               params={"method": "PUBLISH"})
    return message


class Mailer:
    """Empties the outbox: resolves each notification's audience and mails every account once."""

    def __init__(self, engine: sa.Engine, settings: Settings, resolve: Resolve) -> None:
        self.engine = engine
        self.settings = settings
        self.resolve = resolve
        self.sent_total = 0

    def _pending(self) -> list[sa.Row[Any]]:
        query = (sa.select(notifications).join(outbox, outbox.c.notification_id == notifications.c.id)
                 .order_by(notifications.c.created_at).limit(BATCH))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def _delivered(self, notification_id: UUID) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(deliveries.c.login).where(
                deliveries.c.notification_id == notification_id)).scalars())

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
        return smtp

    def _record(self, notification_id: UUID, login: str, last: bool) -> None:
        """The message is out; with the notification's last one, its outbox row goes too (one
        commit, not two)."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.insert().values(notification_id=notification_id, login=login,
                                                    sent_at=datetime.now(UTC)))
            if last:
                conn.execute(outbox.delete().where(outbox.c.notification_id == notification_id))

    def _done(self, notification_ids: list[UUID]) -> None:
        """Notifications nobody is to be mailed about (no address, mail off) leave together."""
        if notification_ids:
            with self.engine.begin() as conn:
                conn.execute(outbox.delete().where(outbox.c.notification_id.in_(notification_ids)))

    async def send_pending(self) -> int:
        """Mail what the outbox holds; returns how many messages went out."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        recipients = await self.resolve(sorted({r.audience for r in rows}))
        sent = await asyncio.to_thread(self._deliver, rows, recipients)
        self.sent_total += sent
        log.info("notifications.mailed", notifications=len(rows), messages=sent)
        return sent

    def _deliver(self, rows: list[sa.Row[Any]],
                 recipients: dict[str, list[dict[str, str]]]) -> int:
        """One SMTP session for the batch; each message recorded as soon as the server took it."""
        smtp: smtplib.SMTP | None = None
        sent = 0
        nobody: list[UUID] = []
        try:
            for row in rows:
                done = self._delivered(row.id)
                pending = [a for a in recipients.get(row.audience, []) if a["login"] not in done]
                if not pending:
                    nobody.append(row.id)
                for index, account in enumerate(pending):
                    smtp = smtp or self._connect()
                    try:
                        smtp.send_message(compose(row, account["login"], account["email"],
                                                  self.settings.smtp_sender, self.settings.zone,
                                                  self.settings.portal_url))
                        sent += 1
                    except smtplib.SMTPRecipientsRefused:
                        # The server will never take this address: said (without it) and
                        # passed, so one bad address does not hold up everybody's mail.
                        log.warning("notifications.recipient_refused", notification=str(row.id))
                    self._record(row.id, account["login"], last=index == len(pending) - 1)
            self._done(nobody)
        finally:
            if smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
        return sent

