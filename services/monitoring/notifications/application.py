"""Notifications as the service uses them: the projection, the mailer and the sweep wired to
one engine, the bell's queries and «напомнить» (see the package's docstring for the whole)."""


from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from nats.aio.client import Client

from services.monitoring.calendar import Report, parse_report_id
from services.monitoring.notifications import rules, store
from services.monitoring.notifications.mailer import Mailer
from services.monitoring.reporting import ReportingCalendarService
from shared import rpc
from shared.auth import Actor, OrgPath, system_actor
from shared.contracts import CONTACTS
from shared.errors import DomainError, forbidden
from shared.localtime import local_today
from shared.loops import periodic
from shared.settings import Settings


class Notifications:
    def __init__(self, engine: sa.Engine, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        store.create_tables(engine)
        self.inbox = store.NotificationInbox(mail=settings.mails)
        self.nc: Client | None = None
        self.mailer = Mailer(engine, settings, self._resolve)
        #: The reporting calendar, for «напомнить» about a late report.
        self.calendar: ReportingCalendarService | None = None
        #: Wakes the mailer after a notification was committed outside the inbox (a reminder);
        #: thread-safe. The inbox's own commits wake it through its ConsumerRunner's on_commit.
        self.on_added: Callable[[], None] = lambda: None

    async def _resolve(self, audiences: list[str]) -> dict[str, list[dict[str, str]]]:
        reply = await rpc.request(self.nc, CONTACTS, {"audiences": audiences},
                                  system_actor(self.settings.region), "monitoring")
        found: dict[str, list[dict[str, str]]] = reply["recipients"]
        return found

    def sweep(self) -> int:
        return store.sweep(self.engine, local_today(self.settings.zone, self.clock),
                           self.settings.inactive_pair_days, self.settings.feedback_reminder_days,
                           self.settings.mails)

    @staticmethod
    def _audiences(actor: Actor) -> list[str]:
        return rules.audiences_of(actor.role, actor.scope, actor.user)

    def mine(self, actor: Actor) -> dict[str, Any]:
        audiences = self._audiences(actor)
        return {"items": store.for_reader(self.engine, audiences, actor.user),
                "unread": store.unread_count(self.engine, audiences, actor.user)}

    def unread(self, actor: Actor) -> int:
        return store.unread_count(self.engine, self._audiences(actor), actor.user)

    def remind(self, actor: Actor, report_id: str) -> bool:
        """«Напомнить»: the level a late report goes to reminds the one that owes it. False when
        it was reminded today already."""
        level, path, deadline = parse_report_id(report_id)
        receiver = Report(report_id, level, path, deadline, "").reported_to
        # Only the level the report goes to (and above it) reminds, never the late one itself.
        if receiver is None or actor.scope == OrgPath.parse(path):
            raise forbidden("Напомнить может уровень, которому сдаётся отчёт")
        actor.require_write(OrgPath.parse(receiver))
        ticker = self.calendar.current() if self.calendar is not None else None
        late = {o.report.report_id: o.report for o in ticker.overdue()} if ticker else {}
        report = late.get(report_id)
        if report is None:
            raise DomainError("REPORT_NOT_OVERDUE", "Отчёт не просрочен или уже сдан", 409)
        found = rules.reminder(report_id, level, path, report.period, report.deadline,
                               local_today(self.settings.zone, self.clock), actor.role)
        with self.engine.begin() as conn:
            added = store.insert_new(conn, found, self.settings.mails, self.clock())
        if added:
            self.on_added()
        return bool(added)

    def mark_read(self, actor: Actor, ids: list[UUID] | None) -> int:
        return store.mark_read(self.engine, self._audiences(actor), actor.user, ids)

    async def mail_loop(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        await periodic("monitoring-mail", self.mailer.send_pending, self.settings.mail_interval,
                       stop, wake)
