"""Notifications: what reaches people without their visiting — in the portal's bell, and by
e-mail when the region configures SMTP (``NASTAVNIK_SMTP_*``).

It lives in monitoring, which owns the deadlines (``ReportDue``) and sees every pair's events;
``rules`` says who gets what, ``store`` keeps it (a projection of the monitoring and pairing
streams, the outbox and the read marks), ``mailer`` empties the outbox through SMTP with
addresses the registry gives at send time (RPC ``CONTACTS``), ``api`` serves the bell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from nats.aio.client import Client

from services.monitoring.notifications import rules, store
from services.monitoring.notifications.mailer import Mailer
from shared import rpc
from shared.auth import Actor, system_actor
from shared.contracts import CONTACTS
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

    def mark_read(self, actor: Actor, ids: list[UUID] | None) -> int:
        return store.mark_read(self.engine, self._audiences(actor), actor.user, ids)

    async def mail_loop(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        await periodic("monitoring-mail", self.mailer.send_pending, self.settings.mail_interval,
                       stop, wake)
