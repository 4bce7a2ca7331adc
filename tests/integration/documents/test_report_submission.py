"""Submitting a report is one step: a second submission, however close behind the first, issues no
second numbered report, and a submission cut short after its document was registered is finished
by the next one with that same document."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from services.documents import views
from services.documents.domain import Report, report_document_id, report_uuid
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.integration.documents.conftest import System
from tests.integration.documents.test_practices_reports_api import report_due

MUNICIPALITY = "demo/m1"


def drafted(system: System) -> UUID:
    """A municipality's report drafted on its ``ReportDue``, as the consumer would leave it."""
    service = system.documents.service
    with service.engine.begin() as conn:
        service.record_report_due(conn, [report_due(MUNICIPALITY, "2023-H1", "municipality", 7)])
    assert service.prepare_drafts() == 1
    return report_uuid("2023-H1", MUNICIPALITY)


def context() -> CommandContext:
    return CommandContext(Actor(user="m", role=Role.MUNICIPAL, scope=OrgPath.parse(MUNICIPALITY)))


def report_documents(system: System) -> list[dict[str, Any]]:
    return system.get("/documents", Role.MUNICIPAL, MUNICIPALITY, kind="report").json()


def claims(system: System) -> int:
    with system.documents.service.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(views.number_claims)).scalar()
                   or 0)


def test_two_submissions_at_once_issue_one_report(system: System) -> None:
    service = system.documents.service
    report_id = drafted(system)
    first_building, release, second_building = threading.Event(), threading.Event(), threading.Event()

    def build_first(number: str, day: Any, meta: dict[str, Any]) -> bytes:
        first_building.set()
        assert release.wait(20)
        return f"first {number}".encode()

    def build_second(number: str, day: Any, meta: dict[str, Any]) -> bytes:
        second_building.set()
        return f"second {number}".encode()

    results: dict[str, Any] = {}

    def submit(name: str, build: Any) -> None:
        try:
            results[name] = service.submit_report(context(), report_id, build)
        except DomainError as exc:
            results[name] = exc

    first = threading.Thread(target=submit, args=("first", build_first))
    second = threading.Thread(target=submit, args=("second", build_second))
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
    with pytest.raises(RuntimeError):
        service.submit_report(context(), report_id, lambda number, day, meta: b"figures " + number.encode())
    # Registered, while the report is still a draft.
    assert [d["id"] for d in report_documents(system)] == [str(document_id)] == [str(stops[0])]
    assert [r["status"] for r in system.get("/documents/reports", Role.MUNICIPAL,
                                            MUNICIPALITY).json()] == ["draft"]

    def must_not_build(number: str, day: Any, meta: dict[str, Any]) -> bytes:
        raise AssertionError("the document is registered already: nothing is built again")

    finished = service.submit_report(context(), report_id, must_not_build)
    assert finished["status"] == "submitted"
    assert finished["document"]["id"] == finished["document_id"] == str(document_id)
    issued = report_documents(system)
    assert [d["number"] for d in issued] == ["1-о"] and claims(system) == 1
    events = [e.type for e in system.published()]
    assert events.count("DocumentIssued") == 1 and events.count("ReportSubmitted") == 1
