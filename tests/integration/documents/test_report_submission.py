"""Submitting a report is one step: a second submission, however close behind the first, issues no
second numbered report, and a submission cut short after its document was registered is finished
by the next one with that same document."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from services.documents import templates, views
from services.documents.commands import ReportTextIn
from services.documents.consumers import ReportDueInbox
from services.documents.domain import Report, report_document_id, report_uuid
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.integration.documents.conftest import System
from tests.integration.documents.test_practices_reports_api import REPORT_TEXT, report_due
from tests.unit.documents.fakes import FakePeers, dashboard

MUNICIPALITY = "demo/m1"


def drafted(system: System) -> UUID:
    """A municipality's report drafted on its ``ReportDue``, as the consumer would leave it; its
    figures from a stand-in for monitoring (what is checked here is the one step)."""
    service = system.documents.service
    service.peers = FakePeers(dashboards={MUNICIPALITY: dashboard(MUNICIPALITY)})
    with service.engine.begin() as conn:
        ReportDueInbox().apply(conn, [report_due(MUNICIPALITY, "2023-H1", "municipality", 7)])
    assert service.prepare_drafts() == 1
    return report_uuid("2023-H1", MUNICIPALITY)


def context() -> CommandContext:
    return CommandContext(Actor(user="m", role=Role.MUNICIPAL, scope=OrgPath.parse(MUNICIPALITY)))


def submit_draft(system: System, report_id: UUID) -> dict[str, Any]:
    text = ReportTextIn.model_validate(REPORT_TEXT)
    return asyncio.run(system.documents.service.submit_report(context(), report_id, text))


def report_documents(system: System) -> list[dict[str, Any]]:
    return system.get("/documents", Role.MUNICIPAL, MUNICIPALITY, kind="report").json()


def claims(system: System) -> int:
    with system.documents.service.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(views.number_claims)).scalar()
                   or 0)


def test_two_submissions_at_once_issue_one_report(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    report_id = drafted(system)
    first_building, release, second_building = threading.Event(), threading.Event(), threading.Event()

    def build(requisites: Any, content: Any) -> bytes:
        if not first_building.is_set():
            first_building.set()
            assert release.wait(20)
            return f"first {requisites.number}".encode()
        second_building.set()
        return f"second {requisites.number}".encode()

    monkeypatch.setattr(templates, "analytic_report", build)
    results: dict[str, Any] = {}

    def submit_as(name: str) -> None:
        try:
            results[name] = submit_draft(system, report_id)
        except DomainError as exc:
            results[name] = exc

    first = threading.Thread(target=submit_as, args=("first",))
    second = threading.Thread(target=submit_as, args=("second",))
    first.start()
    assert first_building.wait(20)
    # The first is building its document: it has passed every check. The second passes the
    # draft check too, and without one step would issue and register its own report now.
    second.start()
    second_building.wait(1.0)
    release.set()
    first.join(30)
    second.join(30)

    assert isinstance(results["first"], dict), results
    assert results["first"]["status"] == "submitted"
    refused = results["second"]
    assert isinstance(refused, DomainError), refused
    assert (refused.code, refused.status) == ("REPORT_ALREADY_SUBMITTED", 409)
    assert not second_building.is_set()  # refused before building anything
    issued = report_documents(system)
    assert [d["id"] for d in issued] == [results["first"]["document"]["id"]]
    assert [d["number"] for d in issued] == ["1-о"] and claims(system) == 1
    assert results["first"]["document_id"] == str(report_document_id(report_id))


def test_a_submission_cut_short_is_finished_with_its_document(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    service = system.documents.service
    report_id = drafted(system)
    document_id = report_document_id(report_id)
    # A submission that died after claiming its number and before registering the document.
    with service.engine.begin() as conn:
        conn.execute(views.number_claims.insert().values(
            path=MUNICIPALITY, kind="report", year=service.today().year, sequence=1,
            document_id=document_id))

    submit = Report.submit
    stops: list[UUID] = []

    def stop_once(self: Report, document: UUID, meta: dict[str, Any]) -> None:
        if not stops:
            stops.append(document)
            raise RuntimeError("the process stopped between DocumentIssued and ReportSubmitted")
        submit(self, document, meta)

    monkeypatch.setattr(Report, "submit", stop_once)
    monkeypatch.setattr(templates, "analytic_report",
                        lambda requisites, content: b"figures " + requisites.number.encode())
    with pytest.raises(RuntimeError):
        submit_draft(system, report_id)
    # Registered, while the report is still a draft.
    assert [d["id"] for d in report_documents(system)] == [str(document_id)] == [str(stops[0])]
    assert [r["status"] for r in system.get("/documents/reports", Role.MUNICIPAL,
                                            MUNICIPALITY).json()] == ["draft"]

    def must_not_build(requisites: Any, content: Any) -> bytes:
        raise AssertionError("the document is registered already: nothing is built again")

    monkeypatch.setattr(templates, "analytic_report", must_not_build)
    finished = submit_draft(system, report_id)
    assert finished["status"] == "submitted"
    assert finished["document"]["id"] == finished["document_id"] == str(document_id)
    issued = report_documents(system)
    assert [d["number"] for d in issued] == ["1-о"] and claims(system) == 1
    events = [e.type for e in system.published()]
    assert events.count("DocumentIssued") == 1 and events.count("ReportSubmitted") == 1
