"""A roadmap item that repeats («Июнь ежегодно») is tracked deadline by deadline over HTTP: done
with 2022 evidence closes 2022 only, 2023 still comes due, is reminded of and turns overdue; the
roadmap JSON shows each deadline's own status, and a store from before keeps reading."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from services.documents import views
from shared.auth import Role
from shared.consumer import consumer_positions
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, System

ROADMAP = """Дорожная карта реализации программы наставничества на 2022-2024 гг.
№\tМероприятие\tСроки\tОтветственный
1.\tОтчёт о реализации программы наставничества\tИюнь ежегодно\tКуратор
2.\tСопровождение наставнических пар\tпостоянно\tКуратор
"""
YEARLY = ["2022-06-30", "2023-06-30", "2024-06-30"]


def put(system: System, url: str, body: dict[str, Any]) -> httpx.Response:
    return system.client.put(url, json=body, headers=system.headers(Role.CURATOR, SCHOOL_A))


def evidence(system: System) -> str:
    response = system.post("/documents/curator-order", {
        **ISSUER, "org": SCHOOL_A, "school_year": "2022-2023",
        "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def statuses(item: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["due_date"], d["status"]) for d in item["due_statuses"]]


def test_a_yearly_item_is_done_year_by_year(system: System) -> None:
    system.clock.today = date(2022, 6, 1)
    response = system.client.post("/documents/roadmaps", data={"org": SCHOOL_A},
                                  files={"file": ("карта.txt", ROADMAP.encode())},
                                  headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert response.status_code == 201, response.text
    roadmap = response.json()
    yearly = roadmap["items"][0]
    assert yearly["due_dates"] == YEARLY and yearly["next_due_date"] == "2022-06-30"
    assert statuses(yearly) == [(d, "planned") for d in YEARLY]
    assert roadmap["items"][1]["due_statuses"] == [] and roadmap["items"][1]["next_due_date"] is None
    url = f"/documents/roadmaps/{roadmap['id']}/items/1"
    service = system.documents.service

    # The 2022 report is evidence for 2022: marked without a date, the earliest open one is done.
    report_2022 = evidence(system)
    done = put(system, url, {"status": "done", "evidence_document_id": report_2022})
    assert done.status_code == 200, done.text
    item = done.json()
    assert statuses(item) == [("2022-06-30", "done"), ("2023-06-30", "planned"),
                              ("2024-06-30", "planned")]
    assert item["due_statuses"][0]["evidence_document_id"] == report_2022
    assert (item["status"], item["next_due_date"]) == ("planned", "2023-06-30")
    stored = system.stored()
    again = put(system, url, {"status": "done", "evidence_document_id": report_2022})
    assert statuses(again.json()) == statuses(item) and system.stored() == stored  # a retry

    # 2023 is still due: reminded of, then overdue, and seen so by the municipality.
    system.clock.today = date(2023, 6, 16)
    assert service.send_reminders() == 1
    system.clock.today = date(2023, 7, 1)
    assert service.mark_overdue() == 1
    overdue = system.get("/documents/roadmaps/overdue", Role.MUNICIPAL, "demo/m1").json()
    assert [(i["id"], i["status"], i["next_due_date"]) for i in overdue] == [
        ("1", "overdue", "2023-06-30")]
    assert statuses(overdue[0])[1] == ("2023-06-30", "overdue")

    # A deadline can be named; one the item does not have is refused.
    wrong = put(system, url, {"status": "done", "evidence_document_id": report_2022,
                              "due_date": "2023-07-01"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "ROADMAP_DUE_DATE_NOT_FOUND"
    report_2023 = evidence(system)
    named = put(system, url, {"status": "done", "evidence_document_id": report_2023,
                              "due_date": "2023-06-30"})
    assert (named.json()["status"], named.json()["next_due_date"]) == ("planned", "2024-06-30")
    assert system.get("/documents/roadmaps/overdue", Role.MUNICIPAL, "demo/m1").json() == []

    reminders = [e.payload for e in system.published() if e.type == "RoadmapItemDue"]
    assert reminders == [{"roadmap_id": roadmap["id"], "item_id": "1", "due_date": "2023-06-30",
                          "days_left": 14}]
    updates = [e for e in system.published() if e.type == "RoadmapItemUpdated"]
    assert [(e.payload["due_date"], e.payload["status"]) for e in updates] == [
        ("2022-06-30", "done"), ("2023-06-30", "overdue"), ("2023-06-30", "done")]
    assert {e.schema_version for e in updates} == {2}


def test_a_view_from_before_due_dates_is_built_again_from_the_store(system: System) -> None:
    system.clock.today = date(2022, 6, 1)
    roadmap = system.client.post("/documents/roadmaps", data={"org": SCHOOL_A},
                                 files={"file": ("карта.txt", ROADMAP.encode())},
                                 headers=system.headers(Role.CURATOR, SCHOOL_A)).json()
    url = f"/documents/roadmaps/{roadmap['id']}/items"
    assert put(system, f"{url}/1", {"status": "done",
                                    "evidence_document_id": evidence(system)}).status_code == 200
    assert put(system, f"{url}/2", {"status": "in_progress"}).status_code == 200
    expected = system.get(f"/documents/roadmaps/{roadmap['id']}").json()
    service = system.documents.service
    # As a store from before looks: no deadline rows, no position for them, and item 1 «done»
    # as a whole (the old rule).
    with service.engine.begin() as conn:
        conn.execute(views.roadmap_due_dates.delete())
        conn.execute(consumer_positions.delete().where(
            consumer_positions.c.consumer == views.DUE_DATES_VIEW))
        conn.execute(views.roadmap_items.update().where(views.roadmap_items.c.item_id == "1")
                     .values(status="done"))
    service.catch_up()
    rebuilt = system.get(f"/documents/roadmaps/{roadmap['id']}").json()
    assert rebuilt == expected
    assert [i["status"] for i in rebuilt["items"]] == ["planned", "in_progress"]
