"""«Наставник года» in the portal: the school's form, the judge's buttons at its own stage only,
the award order issued from the decisions, and the winners shown in the bank of practices."""

from __future__ import annotations

from typing import Any

from services.portal.pages.nominations import judged_by
from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest

MUNICIPALITY = {"id": "m", "path": "demo/m1", "name": "Первый округ", "kind": "municipality",
                "parent_id": "r"}
SCHOOL = {"id": "00000000-0000-0000-0000-000000000005", "path": "demo/m1/school-5",
          "name": "МБОУ «Средняя общеобразовательная школа № 5»", "kind": "school", "parent_id": "m"}
MENTOR = "00000000-0000-0000-0000-0000000000a1"
NOMINATION = "00000000-0000-0000-0000-0000000000b1"


def nomination(municipality: str | None = None, region: str | None = None,
               status: str = "nominated") -> dict[str, Any]:
    return {"id": NOMINATION, "path": SCHOOL["path"], "mentor_id": MENTOR, "school_year": "2025-2026",
            "justification": "Клуб «Старший друг» для сорока пятиклассников",
            "decisions": {"municipality": municipality, "region": region}, "status": status,
            "comment": None}


def test_a_judge_decides_at_its_own_stage_and_shortlists_once() -> None:
    assert [d for d, _ in judged_by("municipality", nomination())] == ["shortlisted", "winner", "declined"]
    assert [d for d, _ in judged_by("municipality", nomination("shortlisted"))] == ["winner", "declined"]
    assert judged_by("region", nomination()) == []
    assert [d for d, _ in judged_by("region", nomination("winner"))] == ["shortlisted", "winner", "declined"]
    assert judged_by("municipality", nomination("winner")) == []
    assert judged_by(None, nomination()) == []


def test_a_school_nominates_its_mentor(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [MUNICIPALITY, SCHOOL])
    portal.api.on("GET", "/documents/nominations", [])
    portal.api.on("GET", f"/registry/organisations/{SCHOOL['id']}/people", [
        {"id": MENTOR, "full_name": "Кузнецова Мария Андреевна", "role": "mentor"}])
    portal.api.on("POST", "/documents/nominations", nomination(), status=201)
    school = portal.client(Role.CURATOR, SCHOOL["path"])
    page = school.get("/nominations", params={"year": "2025-2026"})
    assert "Выдвинуть на конкурс" in page.text and "Кузнецова Мария Андреевна" in page.text
    assert "Признать победителем" not in page.text and "Сформировать приказ" not in page.text
    sent = school.post("/nominations", data={"mentor_id": MENTOR, "school_year": "2025-2026",
                                              "justification": " Клуб «Старший друг» для пятиклассников "})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/nominations?year=2025-2026&done=nominated"
    assert portal.api.sent("POST", "/documents/nominations") == [{
        "org": SCHOOL["path"], "mentor_id": MENTOR, "school_year": "2025-2026",
        "justification": "Клуб «Старший друг» для пятиклассников"}]


def test_the_municipality_decides_and_issues_the_order_of_its_winners(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [MUNICIPALITY, SCHOOL])
    portal.api.on("GET", "/documents/nominations", [nomination("shortlisted", status="shortlisted")])
    portal.api.on("GET", f"/registry/people/{MENTOR}",
                  {"id": MENTOR, "full_name": "Кузнецова Мария Андреевна"})
    decision = f"/documents/nominations/{NOMINATION}/decision"
    portal.api.on("POST", decision, nomination("winner", status="municipal_winner"))
    portal.api.on("POST", "/documents/nominations/award-order", {"id": "d"}, status=201)
    municipal = portal.client(Role.MUNICIPAL, "demo/m1")
    page = municipal.get("/nominations", params={"year": "2025-2026"}).text
    assert "Кузнецова Мария Андреевна" in page and SCHOOL["name"] in page
    assert "в коротком списке муниципалитета" in page and "Признать победителем" in page
    assert "В короткий список" not in page and "Выдвинуть на конкурс" not in page
    done = municipal.post(f"/nominations/{NOMINATION}/decision", data={
        "stage": "municipality", "decision": "winner", "school_year": "2025-2026", "comment": " лучший "})
    assert done.status_code == 303
    assert portal.api.sent("POST", decision) == [{"stage": "municipality", "decision": "winner",
                                                  "comment": "лучший"}]
    issued = municipal.post("/nominations/awards", data={
        "what": "order", "school_year": "2025-2026", "signatory_position": "Начальник управления",
        "signatory_name": "Орлова Анна Петровна"})
    assert issued.headers["location"] == "/territory/documents?issued=award_order"
    order = portal.api.sent("POST", "/documents/nominations/award-order")[0]
    assert order["org"] == "demo/m1" and order["school_year"] == "2025-2026"


def test_winners_are_shown_in_the_bank(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/practices", [])
    portal.api.on("GET", "/registry/organisations", [MUNICIPALITY, SCHOOL])
    portal.api.on("GET", "/documents/nominations/winners", [nomination("winner", status="municipal_winner")])
    # Another territory's reader may not read the name: the winner is still shown, unnamed.
    page = portal.client(Role.AUDITOR, "demo").get("/practices").text
    assert "Победители конкурса «Наставник года»" in page and "победитель муниципального этапа" in page
    assert "наставник (имя недоступно)" in page and SCHOOL["name"] in page
