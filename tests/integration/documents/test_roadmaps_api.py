"""Roadmaps uploaded over HTTP (the three sample exports and a Word file), then tracked: in
progress, done with a document as evidence, overdue by the service's clock and seen above."""

from __future__ import annotations

import io
import re
from datetime import date

import docx
import httpx
import pytest

from services.documents.roadmap import parse_roadmap_file
from shared.auth import Role
from tests.conftest import FIELD_ROADMAPS
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, SCHOOL_B, System
from tests.unit.documents.test_roadmap_field_layouts import ORDER
from tests.unit.documents.test_roadmap_reading import hostile_docx

SAMPLES = FIELD_ROADMAPS
SAMPLE_FILES = ("mineralnye-vody-school7-2022-2024.txt", "smolensk-2022-2024.txt",
                "spassky-ct-2023-2024.txt")


def upload(system: System, name: str, data: bytes, org: str = SCHOOL_A,
           role: Role = Role.CURATOR) -> httpx.Response:
    return system.client.post("/documents/roadmaps", data={"org": org},
                              files={"file": (name, data)}, headers=system.headers(role, org))


def word_roadmap() -> bytes:
    document = docx.Document()
    document.add_paragraph("Дорожная карта внедрения целевой модели наставничества "
                           "на 2023-2024 учебный год")
    table = document.add_table(rows=4, cols=4)
    rows = [["№", "Мероприятие", "Срок", "Ответственный"],
            ["1.", "Назначение куратора", "до 15.09.2023", "Директор"],
            ["2.", "Формирование базы наставников", "Октябрь 2023 г.", "Куратор"],
            ["3.", "Мониторинг программы", "Декабрь 2023 г., май 2024 г.", "Куратор"]]
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_the_three_sample_roadmaps_import_as_the_parser_reads_them(system: System) -> None:
    imported = []
    for name in SAMPLE_FILES:
        response = upload(system, name, (SAMPLES / name).read_bytes())
        assert response.status_code == 201, response.text
        body = response.json()
        expected = parse_roadmap_file(SAMPLES / name).to_dict()
        assert body["title"] == expected["title"] and body["period"] == expected["period"]
        tracking = ("id", "status", "evidence_document_id", "next_due_date", "due_statuses")
        assert [{k: v for k, v in item.items() if k not in tracking}
                for item in body["items"]] == expected["items"]
        assert {item["status"] for item in body["items"]} == {"planned"}
        imported.append(body)

    listed = system.get("/documents/roadmaps", Role.MUNICIPAL, "demo/m1").json()
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in imported)
    assert system.get("/documents/roadmaps", Role.CURATOR, SCHOOL_B).json() == []

    events = [e for e in system.published() if e.type == "RoadmapImported"]
    assert [e.payload["items"] for e in events] == [len(r["items"]) for r in imported]
    assert events[0].payload["period_start"] == imported[0]["period"]["start"]
    # The responsible column names people; those names stay in the service.
    responsible = {i["responsible"] for r in imported for i in r["items"] if i["responsible"]}
    wire = b"".join(e.to_bytes() for e in system.bus()).decode()
    assert "Недошитова" in " ".join(responsible) and "Недошитова" not in wire


def test_a_word_roadmap_is_tracked_to_done_with_evidence_and_overdue_items_surface_above(
        system: System) -> None:
    roadmap = upload(system, "карта.docx", word_roadmap()).json()
    assert roadmap["period"] == {"start": "2023-09-01", "end": "2024-08-31"}
    assert [i["due_dates"] for i in roadmap["items"]] == [
        ["2023-09-15"], ["2023-10-31"], ["2023-12-31", "2024-05-31"]]
    url = f"/documents/roadmaps/{roadmap['id']}/items"

    started = system.client.put(f"{url}/2", json={"status": "in_progress"},
                                headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert started.json()["status"] == "in_progress"
    no_evidence = system.client.put(f"{url}/1", json={"status": "done"},
                                    headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert no_evidence.status_code == 422 and no_evidence.json()["code"] == "EVIDENCE_REQUIRED"
    order = system.post("/documents/curator-order", {
        **ISSUER, "org": SCHOOL_A, "school_year": "2023-2024",
        "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя"}).json()
    done = system.client.put(f"{url}/1", json={"status": "done", "evidence_document_id": order["id"]},
                             headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert done.json()["status"] == "done" and done.json()["evidence_document_id"] == order["id"]
    foreign = system.client.put(f"{url}/3", json={"status": "in_progress"},
                                headers=system.headers(Role.CURATOR, SCHOOL_B))
    assert foreign.status_code == 404

    # Reminders as item 2 (due 31.10) comes due: one per reminder reached, never twice.
    service = system.documents.service
    system.clock.today = date(2023, 10, 24)
    assert service.send_reminders() == 1 and service.send_reminders() == 0
    system.clock.today = date(2023, 10, 25)
    assert service.send_reminders() == 0  # still within the 7-day reminder already sent
    system.clock.today = date(2023, 10, 30)
    assert service.send_reminders() == 1
    reminders = [e.payload for e in system.published() if e.type == "RoadmapItemDue"]
    assert reminders == [
        {"roadmap_id": roadmap["id"], "item_id": "2", "due_date": "2023-10-31", "days_left": 7},
        {"roadmap_id": roadmap["id"], "item_id": "2", "due_date": "2023-10-31", "days_left": 1}]

    # The service's clock passes the first deadlines: item 2 (31.10) is late, item 1 is done,
    # item 3 (first due 31.12) is not yet.
    system.clock.today = date(2023, 11, 1)
    assert system.documents.service.mark_overdue() == 1
    assert system.documents.service.mark_overdue() == 0  # marking again changes nothing
    overdue = system.get("/documents/roadmaps/overdue", Role.MUNICIPAL, "demo/m1").json()
    assert [(i["roadmap_id"], i["id"], i["activity"]) for i in overdue] == [
        (roadmap["id"], "2", "Формирование базы наставников")]
    assert system.get("/documents/roadmaps/overdue", Role.MUNICIPAL, "demo/m2").json() == []
    late_done = system.client.put(f"{url}/2", json={"status": "done",
                                                    "evidence_document_id": order["id"]},
                                  headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert late_done.json()["status"] == "done"
    assert system.get("/documents/roadmaps/overdue", Role.REGIONAL, "demo").json() == []

    updates = [(e.payload["item_id"], e.payload["status"]) for e in system.published()
               if e.type == "RoadmapItemUpdated"]
    assert updates == [("2", "in_progress"), ("1", "done"), ("2", "overdue"), ("2", "done")]


@pytest.mark.parametrize("name, data, code, status", [
    ("notes.txt", "Просто заметки без таблицы мероприятий.".encode(), "ROADMAP_UNREADABLE", 422),
    ("broken.docx", b"PK\x03\x04 not really a zip", "ROADMAP_UNREADABLE", 422),
    ("old.doc", b"\xd0\xcf\x11\xe0 binary word 97", "ROADMAP_UNREADABLE", 422),
    ("empty.txt", b"   ", "EMPTY_FILE", 422),
    ("huge.docx", hostile_docx(rows=76_000), "ROADMAP_TOO_LARGE", 413),
    ("many.txt", "1\tВстреча\tянварь 2024\n".encode() * 70_000, "ROADMAP_TOO_LARGE", 413),
])
def test_unreadable_roadmaps_are_refused_and_nothing_is_stored(system: System, name: str, data: bytes,
                                                                code: str, status: int) -> None:
    response = upload(system, name, data)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and re.search("[а-я]{4}", body["message"])
    assert "/tmp" not in body["message"] and "Error" not in body["message"]
    assert system.stored() == 0


def test_a_plan_inside_an_order_imports_with_the_orders_school_year(system: System) -> None:
    response = upload(system, "приказ.txt", ORDER.encode("cp1251", errors="replace"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["period"] == {"start": "2020-09-01", "end": "2021-08-31"}
    assert [item["due_dates"] for item in body["items"]] == [["2020-09-25"], ["2020-10-31"], ["2021-03-31"]]


def test_only_writers_of_the_organisation_import(system: System) -> None:
    data = (SAMPLES / SAMPLE_FILES[2]).read_bytes()
    assert upload(system, "a.txt", data, org=SCHOOL_A, role=Role.AUDITOR).status_code == 403
    other = system.client.post("/documents/roadmaps", data={"org": SCHOOL_A},
                               files={"file": ("a.txt", data)},
                               headers=system.headers(Role.CURATOR, SCHOOL_B))
    assert other.status_code == 403
    assert system.stored() == 0
