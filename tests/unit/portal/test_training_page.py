"""«Школа наставников» in the portal: the territory's form, the mentor's mark, the curator's
confirmation — each role sees its own part."""

from __future__ import annotations

from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest

SCHOOL = {"id": "00000000-0000-0000-0000-000000000005", "path": "demo/m1/school-5",
          "name": "МБОУ «Средняя общеобразовательная школа № 5»", "kind": "school", "parent_id": "m"}
MENTOR = "00000000-0000-0000-0000-0000000000a1"
MATERIAL = {"id": "00000000-0000-0000-0000-0000000000c1", "path": "demo/m1", "form": "Ученик – ученик",
            "title": "Первая встреча", "description": "Памятка наставнику-старшекласснику", "link": None}
COMPLETION = {"id": "00000000-0000-0000-0000-0000000000d1", "path": SCHOOL["path"],
              "material_id": MATERIAL["id"], "mentor_id": MENTOR, "confirmed": False}


def test_the_municipality_publishes_a_material(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/training/materials", [])
    portal.api.on("GET", "/documents/training/completions", [])
    portal.api.on("POST", "/documents/training/materials", MATERIAL, status=201)
    municipal = portal.client(Role.MUNICIPAL, "demo/m1")
    page = municipal.get("/training").text
    assert "Опубликовать материал" in page and "Материалов пока нет" in page and "Подтвердить" not in page
    sent = municipal.post("/training", data={"form": "Ученик – ученик", "material_title": " Первая встреча ",
                                             "description": MATERIAL["description"], "link": ""})
    assert sent.headers["location"] == "/training?done=published"
    assert portal.api.sent("POST", "/documents/training/materials") == [{
        "org": "demo/m1", "form": "Ученик – ученик", "title": "Первая встреча",
        "description": MATERIAL["description"], "link": None}]


def test_a_mentor_marks_and_sees_the_curators_confirmation(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/training/materials", [MATERIAL])
    portal.api.on("GET", "/documents/training/completions", [])
    mentor = portal.client(Role.PARTICIPANT, SCHOOL["path"])
    page = mentor.get("/training").text
    assert "Ученик – ученик" in page and "Я прошёл(а) этот материал" in page
    assert "Опубликовать материал" not in page
    portal.api.on("POST", f"/documents/training/materials/{MATERIAL['id']}/completed", COMPLETION)
    assert mentor.post(f"/training/materials/{MATERIAL['id']}/completed").status_code == 303
    portal.api.on("GET", "/documents/training/completions", [{**COMPLETION, "confirmed": True}])
    assert "пройдено, подтверждено куратором" in mentor.get("/training").text


def test_the_curator_confirms_its_mentors_completion(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/training/materials", [MATERIAL])
    portal.api.on("GET", "/documents/training/completions", [COMPLETION])
    portal.api.on("GET", "/registry/organisations", [SCHOOL])
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/people", [
        {"id": MENTOR, "full_name": "Кузнецова Мария Андреевна", "role": "mentor"}])
    confirm = f"/documents/training/completions/{COMPLETION['id']}/confirm"
    portal.api.on("POST", confirm, {**COMPLETION, "confirmed": True})
    curator = portal.client(Role.CURATOR, SCHOOL["path"])
    page = curator.get("/training").text
    assert "Кузнецова Мария Андреевна</strong> — Первая встреча" in page and "Я прошёл(а)" not in page
    done = curator.post(f"/training/completions/{COMPLETION['id']}/confirm")
    assert done.headers["location"] == "/training?done=confirmed" and portal.api.sent("POST", confirm)
