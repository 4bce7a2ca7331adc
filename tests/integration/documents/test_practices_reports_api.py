"""The bank of best practices, and reports: a draft on ``ReportDue`` from the monitoring stream,
submitted as an analytic report filled from the monitoring dashboard of its unit."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import sqlalchemy as sa

from services.documents import views
from services.documents.domain import Practice
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.store import CommandContext
from tests.conftest import wait_until
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, SCHOOL_B, System, publish
from tests.integration.documents.reader import read_documents


def practice(system: System, title: str, form: str, tags: list[str], org: str = SCHOOL_A) -> str:
    response = system.post("/documents/practices", {
        "org": org, "title": title, "form": form, "tags": tags,
        "description": "Описание практики: цели, этапы, результаты, материалы."},
        Role.CURATOR, org)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "submitted"
    return str(response.json()["id"])


def review(system: System, practice_id: str, decision: str, role: Role, scope: str) -> httpx.Response:
    return system.post(f"/documents/practices/{practice_id}/review",
                       {"decision": decision, "comment": "рассмотрено"}, role, scope)


def test_practices_are_reviewed_by_the_level_above_and_searchable_by_form_and_tag(
        system: System) -> None:
    olympiad = practice(system, "Олимпиадный клуб", "ученик – ученик", ["Олимпиады", "физика"])
    adaptation = practice(system, "Адаптация пятиклассников", "ученик – ученик", ["адаптация"],
                          org=SCHOOL_B)
    weak = practice(system, "Черновик", "учитель – учитель", ["олимпиады"])

    assert review(system, olympiad, "publish", Role.CURATOR, SCHOOL_A).status_code == 403
    assert review(system, olympiad, "publish", Role.MUNICIPAL, "demo/m2").status_code == 403
    assert review(system, olympiad, "publish", Role.AUDITOR, "demo").status_code == 403
    published = review(system, olympiad, "publish", Role.MUNICIPAL, "demo/m1")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert review(system, adaptation, "publish", Role.REGIONAL, "demo").json()["status"] == "published"
    assert review(system, weak, "reject", Role.MUNICIPAL, "demo/m1").json()["status"] == "rejected"
    again = review(system, weak, "publish", Role.MUNICIPAL, "demo/m1")
    assert again.status_code == 409 and again.json()["code"] == "PRACTICE_ALREADY_REVIEWED"

    # Published practices are open to every school, of any municipality.
    def titles(**params: str) -> list[str]:
        found = system.get("/documents/practices", Role.CURATOR, "demo/m2/school-c", **params)
        return [p["title"] for p in found.json()]

    assert titles() == ["Адаптация пятиклассников", "Олимпиадный клуб"]
    assert titles(form="ученик – ученик", tag="олимпиады") == ["Олимпиадный клуб"]
    assert titles(tag="адаптация") == ["Адаптация пятиклассников"]
    assert titles(form="учитель – учитель") == []
    assert titles(q="клуб") == ["Олимпиадный клуб"]
    rejected = system.get("/documents/practices", Role.MUNICIPAL, "demo/m1", status="rejected")
    assert [p["title"] for p in rejected.json()] == ["Черновик"]
    assert system.get("/documents/practices", Role.CURATOR, "demo/m2/school-c",
                      status="rejected").json() == []

    # A rejection is its own event: a consumer keyed on PracticePublished never sees it.
    events = [(e.type, e.payload.get("status")) for e in system.published()]
    assert events == [("PracticeSubmitted", None)] * 3 + [
        ("PracticePublished", "published"), ("PracticePublished", "published"),
        ("PracticeRejected", None)]
    rejection = system.published()[-1]
    assert rejection.payload == {"practice_id": weak, "form": "учитель – учитель",
                                 "tags": ["олимпиады"]}  # the comment stays in the service


def test_a_rejection_stored_before_practice_rejected_still_reads_as_one(system: System) -> None:
    """Before ``PracticeRejected`` a rejection was ``PracticePublished`` with status "rejected";
    such an event in the store still makes the practice rejected, in the view and the aggregate."""
    old = practice(system, "Старая практика", "учитель – ученик", ["адаптация"])
    service = system.documents.service
    with service._lock:
        stored: Practice = service.events.repository.get(UUID(old))
        meta = CommandContext(Actor(user="m", role=Role.MUNICIPAL, scope=OrgPath.parse("demo/m1"))
                              ).meta(OrgPath.parse(SCHOOL_A))
        stored._published(practice_id=stored.id, form=stored.form, tags=stored.tags,
                          status="rejected", comment="не подходит", meta=meta)  # as once stored
        service._save(stored)
    assert system.get(f"/documents/practices/{old}").json()["status"] == "rejected"
    listed = system.get("/documents/practices", Role.MUNICIPAL, "demo/m1", status="rejected").json()
    assert [p["title"] for p in listed] == ["Старая практика"]
    assert system.get("/documents/practices", Role.CURATOR, "demo/m2/school-c").json() == []
    again = review(system, old, "publish", Role.MUNICIPAL, "demo/m1")
    assert again.status_code == 409 and again.json()["code"] == "PRACTICE_ALREADY_REVIEWED"
    # A view built anew from the store reads it the same way.
    rebuilt = sa.create_engine("sqlite://")
    views.create_tables(rebuilt)
    notifications = service.events.notifications_after(0, 1000)
    with rebuilt.begin() as conn:
        views.apply_events(conn, [(n.id, service.events.mapper.to_domain_event(n))
                                  for n in notifications])
        assert conn.execute(sa.select(views.practices.c.status)).scalar() == "rejected"


def report_due(path: str, report_id: str, level: str, days_left: int) -> Envelope:
    org = OrgPath.parse(path)
    return Envelope(
        event_id=uuid4(), type="ReportDue", schema_version=1, occurred_at=datetime.now(UTC),
        org=org, actor=Actor(user="system", role=Role.SYSTEM, scope=OrgPath(region="demo")),
        correlation_id=uuid4(), source="monitoring", source_position=1, aggregate_id=uuid4(),
        aggregate_version=1,
        payload={"report_id": report_id, "level": level, "period": "первое полугодие 2023/2024",
                 "deadline": "2023-12-25", "days_left": days_left, "overdue": False})


REPORT_TEXT = {
    **ISSUER,
    "organisation_name": "Управление образования округа m1",
    "territory": "Озёрский муниципальный округ",
    "conclusions": ["Доля обучающихся в наставничестве ниже целевого значения."],
}


def test_report_due_prepares_a_draft_and_submitting_it_issues_the_report(
        reporting: System, tmp_path: Path) -> None:
    system = reporting
    url = system.settings.nats_url
    # Two reminders for the municipality's report (redelivery-like), one for a school.
    asyncio.run(publish(url, report_due("demo/m1", "2023-H1", "municipality", 30)))
    asyncio.run(publish(url, report_due("demo/m1", "2023-H1", "municipality", 7)))
    asyncio.run(publish(url, report_due(SCHOOL_A, "2023-H1", "organisation", 7)))

    def drafts() -> list[dict]:
        return system.get("/documents/reports", Role.REGIONAL, "demo").json()

    wait_until(lambda: len(drafts()) == 2 and system.documents.consumer is not None
               and system.documents.consumer.applied_total == 3, message="report drafts")
    municipal = next(r for r in drafts() if r["path"] == "demo/m1")
    assert (municipal["status"], municipal["level"], municipal["deadline"]) == (
        "draft", "municipality", "2023-12-25")
    assert [r["path"] for r in system.get("/documents/reports", Role.CURATOR, SCHOOL_B).json()] == []

    system.settle()  # monitoring knows the municipality the report is about
    system.clock.today = date(2023, 12, 20)
    refused = system.post(f"/documents/reports/{municipal['id']}/submit", REPORT_TEXT, Role.CURATOR,
                          SCHOOL_A)
    assert refused.status_code == 404
    submitted = system.post(f"/documents/reports/{municipal['id']}/submit", REPORT_TEXT,
                            Role.MUNICIPAL, "demo/m1")
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted" and body["document"]["number"] == "1-о"
    twice = system.post(f"/documents/reports/{municipal['id']}/submit", REPORT_TEXT, Role.MUNICIPAL,
                        "demo/m1")
    assert twice.status_code == 409 and twice.json()["code"] == "REPORT_ALREADY_SUBMITTED"

    docx = system.get(body["document"]["docx_url"], Role.REGIONAL, "demo").content
    text = read_documents({"report": docx}, tmp_path / "r", tmp_path / "profile")["report"]
    for expected in ("ИНФОРМАЦИОННО-АНАЛИТИЧЕСКИЙ ОТЧЁТ", "муниципального образования",
                     "Озёрский муниципальный округ за первое полугодие 2023/2024", "№ 1-о",
                     "20.12.2023", "ниже целевого значения", "И.П. Смирнова",
                     # The figures are the dashboard's: nobody registered yet, no data.
                     "1 Доля обучающихся 10–19 лет, вовлечённых в наставничество в роли "
                     "наставляемого — 70,0 % —", "1 Наставники 0", "Итого 0 0 0 — / —"):
        assert expected in text, expected
    with_figures = system.post(f"/documents/reports/{municipal['id']}/submit",
                               {**REPORT_TEXT, "breakdown": []}, Role.MUNICIPAL, "demo/m1")
    assert with_figures.status_code == 422  # figures are not the caller's to give

    events = system.published()
    types = [e.type for e in events]
    assert types == ["ReportDrafted", "ReportDrafted", "DocumentIssued", "ReportSubmitted"]
    submitted_event = events[-1]
    assert submitted_event.payload == {"report_id": "2023-H1", "level": "municipality",
                                       "period": "первое полугодие 2023/2024",
                                       "document_id": body["document"]["id"]}
    assert str(submitted_event.org) == "demo/m1"
    assert events[0].causation_id is not None  # drafted because of a ReportDue event
