"""Notifications by e-mail, end to end on real parts: registry, pairing and monitoring on a real
NATS, the region's SMTP server a real one (aiosmtpd) on 127.0.0.1. A report falls due: each
curator with an address gets one message in Russian, the one who switched mail off none; a
restart that makes the consumer read everything again sends nothing twice; once the report is
overdue, the municipality hears too; a meeting arrives as a calendar entry in the region's time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from icalendar import Calendar

from services.monitoring.audit.feeder import init_key
from services.monitoring.calendar import CalendarConfig
from services.monitoring.notifications.store import outbox
from services.monitoring.runtime import MonitoringRuntime
from services.pairing.runtime import PairingRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.consumer import consumer_positions
from shared.host import create_app
from shared.localtime import local_today
from shared.mailcatcher import MailCatcher
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import events_at, wait_until

SCHOOL = "demo/m1/school-a"
PASSWORD = "Zorkiy-lis-na-rassvete-42"
PORTAL = "https://nastavnik.demo-region.ru"
CURATORS = {"curator-a1": "a1@school-a.ru", "curator-a2": "a2@school-a.ru", "curator-a3": None}


class Clock:
    now = datetime(2025, 12, 6, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Running:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        init_key(settings, exist_ok=True)
        self.clock = clock
        self.settings = settings
        self.registry = RegistryRuntime(settings)
        self.pairing = PairingRuntime(settings)
        self.monitoring = MonitoringRuntime(
            settings, head_interval=60, clock=clock, calendar_interval=3600,
            calendar=CalendarConfig(region="demo", start=date(2025, 9, 1)))
        self.client = TestClient(create_app(settings, [self.registry, self.pairing,
                                                       self.monitoring]))

    def as_(self, user: str, role: Role, scope: str) -> dict[str, str]:
        actor = Actor(user=user, role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        response = self.client.post(url, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def mail_settled(self) -> bool:
        """Every monitoring event reached the notifications and their outbox is empty."""
        engine = self.monitoring.engine
        with engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar()
        runner = self.monitoring.runners["monitoring-notifications"]
        stored = self.monitoring.store.max_position()
        return pending == 0 and runner.position("monitoring") >= stored


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "mail") as running:
        yield running


@pytest.fixture
def mail_settings(settings: Settings, fresh_nats: EmbeddedNats, catcher: MailCatcher) -> Settings:
    settings.nats_url = fresh_nats.url
    settings.smtp_host, settings.smtp_port = "127.0.0.1", catcher.port
    # Far off: a mail leaves because the inbox's commit woke the mailer, not on its clock.
    settings.mail_interval = 3600
    settings.portal_url = PORTAL
    return settings


def to(messages: list[EmailMessage]) -> list[str]:
    return sorted(str(m["To"]) for m in messages)


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def set_up_region(system: Running) -> None:
    regional = system.as_("regional", Role.REGIONAL, "demo")
    # Registered on the clock's day: the calendar asks no report of a period before it.
    with events_at(system.clock):
        region = system.post("/registry/organisations",
                             {"code": "demo", "name": "Демо-регион", "kind": "region"}, regional)["id"]
        m1 = system.post("/registry/organisations", {"code": "m1", "name": "Округ", "kind": "municipality",
                                                     "parent_id": region}, regional)["id"]
        system.post("/registry/organisations", {"code": "school-a", "name": "Школа А", "kind": "school",
                                                "parent_id": m1}, regional)
    officials = [*((login, Role.CURATOR, SCHOOL, email) for login, email in CURATORS.items()),
                 ("municipal-m1", Role.MUNICIPAL, "demo/m1", "otdel@m1.ru")]
    for login, role, scope, email in officials:
        system.post("/auth/accounts", {"login": login, "password": PASSWORD, "role": role.value,
                                       "scope": scope}, regional)
        response = system.client.put("/auth/notifications", json={
            "email": email or "a3@school-a.ru", "email_enabled": email is not None},
            headers=system.as_(login, role, scope))
        assert response.status_code == 200, response.text
    # The calendar reports for the organisations the dashboards know.
    wait_until(lambda: SCHOOL in system.monitoring.calendar.organisations()["organisation"],
               timeout=30, message="monitoring to know the school")


def test_a_report_due_mails_each_recipient_once_across_a_restart(
        mail_settings: Settings, catcher: MailCatcher) -> None:
    clock = Clock()
    system = Running(mail_settings, clock)
    with system.client:
        set_up_region(system)
        assert system.monitoring.calendar.tick() >= 1  # 14 days before 20.12.2025
        wait_until(lambda: len(catcher.messages()) >= 2 and system.mail_settled(),
                   message="the reminder mailed")
        first = catcher.messages()
        assert to(first) == ["a1@school-a.ru", "a2@school-a.ru"]  # a3 switched mail off
        assert {m["Subject"] for m in first} == {"Срок сдачи отчёта — 20.12.2025"}
        assert ("Отчёт за 1-е полугодие 2025/26 учебного года нужно сдать до 20.12.2025: "
                "до срока осталось 14 дней.") in text(first[0])
        # The letter leads to the page where the report is sent, on the portal's public address.
        assert f"Открыть в портале: {PORTAL}/reports\n" in text(first[0])
        assert f"«Учётная запись» портала: {PORTAL}/account." in text(first[0])
        bell = system.client.get("/monitoring/notifications", headers=system.as_(
            "curator-a3", Role.CURATOR, SCHOOL)).json()
        assert bell["unread"] == 1 and bell["items"][0]["title"] == "Срок сдачи отчёта — 20.12.2025"
        # A crash before the position was recorded: the restarted consumer reads it all again.
        with system.monitoring.engine.begin() as conn:
            conn.execute(consumer_positions.update().where(
                consumer_positions.c.consumer == "monitoring-notifications").values(last_seq=0))

    clock.now = datetime(2025, 12, 21, 9, tzinfo=UTC)  # the day after the deadline
    system = Running(mail_settings, clock)
    with system.client:
        # The calendar ticks at start: the school's report is overdue, the municipality's own
        # (25.12) comes near.
        wait_until(lambda: len(catcher.messages()) >= 6 and system.mail_settled(), timeout=30,
                   message="the restarted service caught up and mailed the new notices")
        sent = Counter((str(m["To"]), str(m["Subject"])) for m in catcher.messages())
        assert sent == {
            ("a1@school-a.ru", "Срок сдачи отчёта — 20.12.2025"): 1,  # not sent twice
            ("a2@school-a.ru", "Срок сдачи отчёта — 20.12.2025"): 1,
            ("a1@school-a.ru", "Отчёт просрочен — срок был 20.12.2025"): 1,
            ("a2@school-a.ru", "Отчёт просрочен — срок был 20.12.2025"): 1,
            ("otdel@m1.ru", "Просрочен отчёт: Школа А"): 1,
            ("otdel@m1.ru", "Срок сдачи отчёта — 25.12.2025"): 1}
        above = next(m for m in catcher.messages() if m["Subject"] == "Просрочен отчёт: Школа А")
        assert ("Отчёт за 1-е полугодие 2025/26 учебного года от «Школа А» не сдан: "
                "срок истёк 20.12.2025.") in text(above)

        # «Напомнить»: the municipality reminds the late school, once a day; the school cannot.
        remind = {"report_id": "org:demo/m1/school-a:2025-12-20"}
        municipal = system.as_("municipal-m1", Role.MUNICIPAL, "demo/m1")
        own = system.client.post("/monitoring/notifications/remind", json=remind,
                                 headers=system.as_("curator-a1", Role.CURATOR, SCHOOL))
        assert own.status_code == 403
        assert system.post("/monitoring/notifications/remind", remind, municipal) == {"reminded": True}
        assert system.post("/monitoring/notifications/remind", remind, municipal) == {"reminded": False}
        wait_until(lambda: len(catcher.messages()) >= 8 and system.mail_settled(),
                   message="the reminder mailed")
        reminded = [m for m in catcher.messages() if str(m["Subject"]).startswith("Напоминание")]
        assert to(reminded) == ["a1@school-a.ru", "a2@school-a.ru"]
        assert "Муниципалитет напоминает: отчёт за 1-е полугодие 2025/26 учебного года не сдан" \
            in text(reminded[0])


def test_a_meeting_reaches_the_pair_as_a_calendar_entry_in_local_time(
        mail_settings: Settings, catcher: MailCatcher) -> None:
    system = Running(mail_settings, Clock())
    with system.client:
        set_up_region(system)
        curator = system.as_("curator-a1", Role.CURATOR, SCHOOL)
        school_id = next(o["id"] for o in system.client.get(
            "/registry/organisations", headers=curator).json() if o["path"] == SCHOOL)
        programme = system.post("/registry/programmes", {
            "organisation_id": school_id, "form": "учитель – ученик", "school_year": "2025-2026",
            "curator": "Куратор"}, curator)["id"]
        people = {}
        for role, last, email in (("mentor", "Смирнова", "smirnova@mail.ru"),
                                  ("mentee", "Петров", "petrov@mail.ru")):
            body: dict[str, Any] = {
                "organisation_id": school_id, "consent_given_by": "self",
                "person": {"last_name": last, "first_name": "Анна", "middle_name": "Ивановна",
                           "birth_date": "1990-05-01" if role == "mentor" else "2008-03-01",
                           "email": email}}
            body.update({"category": "teacher", "competencies": ["олимпиада"], "capacity": 2}
                        if role == "mentor" else {"category": "student", "grade": 11,
                                                  "requests": ["олимпиада"]})
            people[role] = system.post(f"/registry/{role}s", body, curator)["id"]
        wait_until(lambda: system.pairing.pools is not None and system.pairing.pools.position(
            "registry") >= system.registry.service.events.max_position(), message="pools")
        pair = system.post("/pairing/pairs", {"programme_id": programme,
                                              "mentor_id": people["mentor"],
                                              "mentee_ids": [people["mentee"]]}, curator)["id"]
        today = local_today(mail_settings.zone)
        system.post(f"/pairing/pairs/{pair}/meetings", {
            "kind": "intro", "date": today.isoformat(), "duration_minutes": 45,
            "format": "in_person"}, curator)
        wait_until(lambda: sum(m["Subject"].startswith("Встреча") for m in catcher.messages()) == 2
                   and system.mail_settled(), message="the meeting mailed to both")
        meetings = [m for m in catcher.messages() if m["Subject"].startswith("Встреча")]
        assert to(meetings) == ["petrov@mail.ru", "smirnova@mail.ru"]
        invited = [m for m in catcher.messages() if m["Subject"].startswith("Вы приглашены")]
        assert to(invited) == ["petrov@mail.ru", "smirnova@mail.ru"]
        assert "Встреча во вложении — для вашего календаря." in text(meetings[0])
        # The participant's page, at the pair the meeting was held in.
        assert f"Открыть в портале: {PORTAL}/my#pair-{pair}\n" in text(meetings[0])
        ics = next(p for p in meetings[0].walk() if p.get_content_type() == "text/calendar")
        event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
        start = event.decoded("dtstart")
        assert str(start.tzinfo) == "Europe/Moscow"  # the region's local time, not UTC
        assert start.date() == today
        assert event.decoded("dtend") - start == (datetime(1, 1, 1, 0, 45) - datetime(1, 1, 1))
        assert "Встреча № 1 (знакомство)" in str(event.get("summary"))
