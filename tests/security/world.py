"""One small region served by every service in one app on a real NATS, for the security tests.

Everything the tests aim at lies in school-a of municipality m1 of region demo: "own" actors are
scoped there, "other" actors to a sibling (another school, municipality or region).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from shared.auth import Actor, OrgPath, Role, issue_token
from shared.localtime import local_today
from shared.settings import Settings

SCHOOL = "demo/m1/school-a"
MUNICIPALITY = "demo/m1"
REGION = "demo"
SURNAMES = ("Орлов", "Петрова", "Зайцев", "Лебедева")
ISSUER = {"organisation_name": "МБОУ СОШ № 1", "place": "г. Демо",
          "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}


def wait_until(condition: Any, timeout: float = 20.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


@dataclass
class World:
    client: TestClient
    settings: Settings
    runtimes: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def token(self, role: Role, scope: str, user: str = "tester") -> str:
        return issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)),
                           self.settings.signing_secret)

    def headers(self, role: Role = Role.REGIONAL, scope: str = REGION,
                user: str = "tester") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, scope, user)}"}

    def post(self, url: str, body: dict[str, Any], role: Role = Role.REGIONAL, scope: str = REGION) -> Any:
        response = self.client.post(url, json=body, headers=self.headers(role, scope))
        assert response.status_code < 300, (url, response.status_code, response.text)
        return response.json() if response.content else None

    def unique(self) -> int:
        self.counter += 1
        return self.counter

    def birth(self, year: int) -> str:
        """A birth date no other test person has: names may not carry digits, dates may."""
        n = self.unique()
        return f"{year - n // 336}-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}"

    # --- fresh records for state-changing requests ------------------------------------------

    def new_mentee(self) -> str:
        return self.post("/registry/mentees", {
            "organisation_id": self.ids["school"], "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": SURNAMES[0], "first_name": "Егор", "middle_name": "Ильич",
                       "birth_date": self.birth(2013),
                       "guardian_name": "Орлова Мария Ивановна"}})["id"]

    def new_mentor(self) -> str:
        return self.post("/registry/mentors", {
            "organisation_id": self.ids["school"], "category": "teacher", "consent_given_by": "self",
            "competencies": ["олимпиада"], "capacity": 1,
            "person": {"last_name": SURNAMES[1], "first_name": "Анна", "middle_name": "Сергеевна",
                       "birth_date": self.birth(1984)}})["id"]

    def new_pair(self) -> str:
        """A pair of a new mentor and a new mentee, both known to the pairing service."""
        mentor, mentee = self.new_mentor(), self.new_mentee()
        self.pools_caught_up()
        return self.post("/pairing/pairs", {
            "programme_id": self.ids["programme"], "mentor_id": mentor,
            "mentee_ids": [mentee]}, Role.CURATOR, SCHOOL)["id"]

    def new_proposal(self) -> str:
        """A pair proposed by school-b (same municipality) with a new mentor of school-a: the
        "own" actors are on the side that answers it."""
        if "school-b" not in self.ids:
            self.ids["school-b"] = self.post("/registry/organisations", {
                "code": "school-b", "name": "Школа Б", "kind": "school",
                "parent_id": self.ids["m1"]})["id"]
        mentor = self.new_mentor()
        mentee = self.post("/registry/mentees", {
            "organisation_id": self.ids["school-b"], "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": SURNAMES[0], "first_name": "Пётр", "middle_name": "Ильич",
                       "birth_date": self.birth(2013),
                       "guardian_name": "Орлова Мария Ивановна"}})["id"]
        self.pools_caught_up()
        answer = self.post("/pairing/pairs", {"form": "учитель – ученик", "mentor_id": mentor,
                                              "mentee_ids": [mentee]},
                           Role.CURATOR, "demo/m1/school-b")
        assert answer["status"] == "proposed", answer
        return str(answer["id"])

    def pooled(self) -> tuple[str, str]:
        """A new mentor and mentee the pairing service knows, not yet paired."""
        mentor, mentee = self.new_mentor(), self.new_mentee()
        self.pools_caught_up()
        return mentor, mentee

    def pools_caught_up(self) -> None:
        registry, pairing = self.runtimes["registry"], self.runtimes["pairing"]
        stored = registry.service.events.max_position()
        wait_until(lambda: pairing.pools is not None and pairing.pools.position("registry") >= stored,
                   message="pairing pools to catch up")

    def populate(self) -> None:
        ids = self.ids
        ids["region"] = self.post("/registry/organisations",
                                  {"code": "demo", "name": "Демо", "kind": "region"})["id"]
        for municipality in ("m1", "m2"):
            ids[municipality] = self.post("/registry/organisations", {
                "code": municipality, "name": f"Округ {municipality}", "kind": "municipality",
                "parent_id": ids["region"]})["id"]
        ids["school"] = self.post("/registry/organisations", {
            "code": "school-a", "name": "Школа А", "kind": "school", "parent_id": ids["m1"]})["id"]
        ids["school-c"] = self.post("/registry/organisations", {
            "code": "school-c", "name": "Школа В", "kind": "school", "parent_id": ids["m2"]})["id"]
        ids["mentor"] = self.post("/registry/mentors", {
            "organisation_id": ids["school"], "category": "teacher", "consent_given_by": "self",
            "competencies": ["олимпиада"], "capacity": 15,
            "person": {"last_name": SURNAMES[1], "first_name": "Анна", "middle_name": "Сергеевна",
                       "birth_date": "1985-03-14"}})["id"]
        ids["mentee"] = self.new_mentee()
        ids["programme"] = self.post("/registry/programmes", {
            "organisation_id": ids["school"], "form": "учитель – ученик", "school_year": "2025-2026",
            "curator": "Куратор"}, Role.CURATOR, SCHOOL)["id"]
        self.pools_caught_up()
        ids["pair"] = self.post("/pairing/pairs", {
            "programme_id": ids["programme"], "mentor_id": ids["mentor"],
            "mentee_ids": [ids["mentee"]]}, Role.CURATOR, SCHOOL)["id"]
        self.post(f"/pairing/pairs/{ids['pair']}/meetings", {
            "kind": "intro", "date": local_today().isoformat(), "duration_minutes": 45}, Role.CURATOR, SCHOOL)
        ids["document"] = self.post("/documents/curator-order", {
            **ISSUER, "org": SCHOOL, "school_year": "2025-2026", "curator_name": "Иванова Ольга",
            "curator_position": "Заместитель директора"}, Role.CURATOR, SCHOOL)["id"]
        ids["practice"] = self.post("/documents/practices", {
            "org": SCHOOL, "title": "Практика школы", "description": "Описание практики школы А",
            "form": "учитель – ученик"}, Role.CURATOR, SCHOOL)["id"]
        ids["nomination"] = self.post("/documents/nominations", {
            "org": SCHOOL, "mentor_id": ids["mentor"], "school_year": "2025-2026",
            "justification": "Создала клуб наставников для пятиклассников школы"},
            Role.CURATOR, SCHOOL)["id"]
        ids["material"] = self.post("/documents/training/materials", {
            "org": MUNICIPALITY, "form": "учитель – ученик", "title": "Первая встреча",
            "description": "Памятка наставнику о первой встрече"}, Role.MUNICIPAL, MUNICIPALITY)["id"]
        marked = self.client.post(f"/documents/training/materials/{ids['material']}/completed",
                                  headers=self.headers(Role.PARTICIPANT, SCHOOL, ids["mentor"]))
        assert marked.status_code == 200, marked.text
        ids["completion"] = marked.json()["id"]
        response = self.client.post(
            "/documents/roadmaps", data={"org": SCHOOL}, headers=self.headers(Role.CURATOR, SCHOOL),
            files={"file": ("roadmap.txt", ROADMAP_TEXT.encode(), "text/plain")})
        assert response.status_code == 201, response.text
        roadmap = response.json()
        ids["roadmap"] = roadmap["id"]
        ids["item"] = roadmap["items"][0]["id"]


ROADMAP_TEXT = (Path(__file__).parents[1] / "fixtures" / "roadmaps" / "pipe_no_header.txt").read_text()
