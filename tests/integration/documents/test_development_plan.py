"""A pair's individual development plan (персонализированная программа наставничества) is issued
from the pair's goals, which the documents service gets from pairing over NATS (sealed goals,
opened by pairing for the issuing curator): it prints the organisation, the members' names, the
form, the period, each goal with its due date and status, and lines to sign; a curator of another
school gets nothing, and a member's withdrawal erases it."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa
from docx import Document

from services.documents import views
from shared.auth import Role
from tests.conftest import wait_until
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, SCHOOL_B, System
from tests.integration.documents.reader import pdf_text
from tests.integration.documents.test_generation_api import paired, people

GOALS = ("Подготовить проект по робототехнике к городскому конкурсу",
         "Освоить основы программирования на Python")


def plan_body(pair_id: str, org: str = SCHOOL_A) -> dict[str, object]:
    return {**ISSUER, "org": org, "pair_id": pair_id, "school_year": "2023-2024"}


def docx_text(content: bytes) -> str:
    document = Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return " ".join([p.text for p in document.paragraphs] + cells)


def test_a_plan_prints_the_pairs_goals_and_names_in_docx_and_pdf(system: System,
                                                                  tmp_path: Path) -> None:
    ids = paired(system, people(system))
    pair = ids["pair-1"]  # Петрова with Орлов
    for title, due, status in ((GOALS[0], "2024-03-15", "in_progress"),
                               (GOALS[1], "2024-05-20", "planned")):
        set_goal = system.post(f"/pairing/pairs/{pair}/goals",
                               {"title": title, "due": due, "status": status})
        assert set_goal.status_code == 201, set_goal.text
    system.clock.today = date(2023, 10, 2)

    issued = system.post("/documents/development-plan", plan_body(pair))
    assert issued.status_code == 201, issued.text
    document = issued.json()
    assert document["number"] == "1-ипр"
    assert document["title"] == "Персонализированная программа наставничества"

    docx = system.get(document["docx_url"])
    assert docx.status_code == 200, docx.text
    text = docx_text(docx.content)
    for expected in (*GOALS, "15.03.2024", "20.05.2024", "в работе", "запланирована",
                     "Петрова Анна Сергеевна", "Орлов Егор Ильич", "учитель – ученик",
                     "2023-2024", "МБОУ «Средняя школа № 1»", "Смирнова",
                     "/А.С. Петрова/", "/Е.И. Орлов/"):
        assert expected.lower() in text.lower(), (expected, text)

    pdf = system.get(document["pdf_url"])  # converted by the service with LibreOffice
    assert pdf.status_code == 200, pdf.text
    (tmp_path / "plan.pdf").write_bytes(pdf.content)
    printed = pdf_text(tmp_path / "plan.pdf")
    for expected in ("Петрова Анна Сергеевна", "Орлов Егор Ильич", "15.03.2024", "20.05.2024",
                     "робототехнике", "Python", "№ 1-ипр"):
        assert expected in printed, (expected, printed[:3000])

    # No goal text and no name reaches the bus: the event carries ids and numbers only.
    wire = b"".join(e.to_bytes() for e in system.published()).decode()
    assert "робототехнике" not in wire and "Петрова" not in wire


def test_a_curator_of_another_school_is_refused_and_nothing_is_issued(system: System) -> None:
    ids = paired(system, people(system))
    pair = ids["pair-1"]
    assert system.post(f"/pairing/pairs/{pair}/goals", {"title": GOALS[0]}).status_code == 201

    # Naming school A from school B: not theirs to issue for.
    foreign_org = system.post("/documents/development-plan", plan_body(pair), Role.CURATOR, SCHOOL_B)
    assert foreign_org.status_code == 403, foreign_org.text
    # Issuing for school B about school A's pair: pairing does not show them the pair.
    foreign_pair = system.post("/documents/development-plan", plan_body(pair, SCHOOL_B),
                               Role.CURATOR, SCHOOL_B)
    assert foreign_pair.status_code == 404, foreign_pair.text
    assert foreign_pair.json()["code"] == "PAIR_NOT_FOUND"
    assert "план развития не сформирован" in foreign_pair.json()["message"]
    assert system.get("/documents", kind="development_plan").json() == []


def test_a_members_withdrawal_erases_the_plan(system: System) -> None:
    ids = paired(system, people(system))
    pair = ids["pair-1"]
    assert system.post(f"/pairing/pairs/{pair}/goals", {"title": GOALS[0]}).status_code == 201
    issued = system.post("/documents/development-plan", plan_body(pair))
    assert issued.status_code == 201, issued.text
    document = issued.json()

    withdrawn = system.post(f"/registry/people/{ids['orlov']}/consent/withdraw",
                            {"reason": "семья"})
    assert withdrawn.status_code == 204, withdrawn.text

    def erased() -> bool:
        with system.documents.service.engine.connect() as conn:
            return conn.execute(sa.select(views.recipes.c.document_id).where(
                views.recipes.c.document_id == UUID(document["id"]))).first() is None
    wait_until(erased, timeout=30, message="the plan's recipe to be erased")
    assert system.get(document["docx_url"]).json()["code"] == "PERSONAL_DATA_ERASED"
