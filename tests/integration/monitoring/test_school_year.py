"""A school year of a small municipality, end to end over a real NATS.

People are registered in the registry, pairs formed, meetings held and feedback given in the
pairing service, surveys answered to the monitoring service — all through their HTTP APIs, each
service meeting the others only on the bus. Every dashboard figure at school, municipality and
region level is checked against numbers worked out by hand below; the figures as of earlier
moments, folded from the audit log alone, equal what the live dashboards showed then, and so
does a rebuild of the read model; the reporting calendar emits ``ReportDue`` as its clock moves
and a submitted report clears it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import nats
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from services.monitoring.audit.feeder import init_key
from services.monitoring.calendar import CalendarConfig
from services.monitoring.dashboards import counts_table, state_table
from services.monitoring.rebuild import rebuild
from services.monitoring.runtime import MonitoringRuntime
from services.monitoring.suppression import hidden_text, reason_text
from services.pairing.runtime import PairingRuntime
from services.registry.runtime import RegistryRuntime
from shared import periods
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.bus import ensure_streams
from shared.contracts import Envelope, stream_name
from shared.events import ReportSubmitted
from shared.host import create_app
from shared.localtime import local_today
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import events_at, signed_headers, wait_until

A, B, C = "demo/m1/school-a", "demo/m1/school-b", "demo/m2/school-c"
SURNAMES = ("Орлов", "Белов", "Зайцев", "Лебедев", "Волков", "Соколов", "Морозов", "Новиков")


@dataclass
class Clock:
    now: datetime = datetime(2025, 9, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def today(self) -> date:
        return self.now.date()

    def set_day(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


@dataclass
class Year:
    client: TestClient
    settings: Settings
    registry: RegistryRuntime
    pairing: PairingRuntime
    monitoring: MonitoringRuntime
    clock: Clock
    org: dict[str, str] = field(default_factory=dict)
    names: itertools.count[int] = field(default_factory=itertools.count)
    published_documents: int = 0

    def headers(self, role: Role, scope: str, user: str = "user") -> dict[str, str]:
        actor = Actor(user=user, role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def post(self, url: str, body: dict[str, Any], scope: str, role: Role = Role.CURATOR) -> Any:
        response = self.client.post(url, json=body, headers=self.headers(role, scope))
        assert response.status_code in (200, 201, 204), response.text
        return response.json() if response.content else None

    def get(self, url: str, scope: str, role: Role = Role.REGIONAL, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=self.headers(role, scope))

    def organisation(self, code: str, kind: str, parent: str | None) -> str:
        body = {"code": code, "name": f"Организация {code}", "kind": kind,
                **({"parent_id": self.org[parent]} if parent else {})}
        with events_at(self.clock):  # registered on the day the test's clock says
            self.org[code] = self.post("/registry/organisations", body, "demo", Role.REGIONAL)["id"]
        return self.org[code]

    def person(self, role: str, path: str, category: str, birth: str, **extra: Any) -> str:
        n = next(self.names)
        person = {"last_name": SURNAMES[n % len(SURNAMES)], "first_name": "Олег",
                  "birth_date": f"{birth}-03-{1 + n % 28:02d}"}
        minor = int(birth) > 2008
        if minor:
            person["guardian_name"] = "Орлова Мария Ивановна"
        body = {"organisation_id": self.org[path.split("/")[-1]], "category": category,
                "consent_given_by": "guardian" if minor else "self", "person": person, **extra}
        return str(self.post(f"/registry/{role}s", body, path)["id"])

    def programme(self, path: str, form: str) -> str:
        return str(self.post("/registry/programmes", {
            "organisation_id": self.org[path.split("/")[-1]], "form": form,
            "school_year": "2025-2026", "curator": "Куратор"}, path)["id"])

    def pair(self, path: str, programme: str, mentor: str, *mentees: str) -> str:
        return str(self.post("/pairing/pairs", {"programme_id": programme, "mentor_id": mentor,
                                                "mentee_ids": list(mentees)}, path)["id"])

    def meeting(self, path: str, pair: str, kind: str, day: date) -> int:
        self.clock.set_day(day)
        # The figures here count the feedback given; where a side gave none, the curator
        # recorded why (the reason is ignored when both sides answered).
        return int(self.post(f"/pairing/pairs/{pair}/meetings", {
            "kind": kind, "date": day.isoformat(), "duration_minutes": 45,
            "missing_feedback_reason": "Участник не ответил"}, path)["number"])

    def feedback(self, path: str, pair: str, number: int, **scores: int) -> None:
        for respondent, satisfaction in scores.items():
            self.post(f"/pairing/pairs/{pair}/feedback", {
                "meeting_number": number, "respondent_id": self.people[respondent],
                "satisfaction": satisfaction}, path)

    people: dict[str, str] = field(default_factory=dict)

    def survey(self, path: str, code: str, stage: str, role: str, who: str,
               scores: dict[str, int], pair: str | None = None, form: str | None = None) -> None:
        self.post("/monitoring/surveys", {
            "organisation": path, "survey": code, "stage": stage, "respondent_role": role,
            "respondent_id": self.people[who], "pair_id": pair, "form": form,
            "answers": scores}, path)

    def submit_report(self, report_id: str, path: str) -> None:
        """What the documents service publishes when a report is submitted."""
        org = OrgPath.parse(path)
        self.published_documents += 1
        envelope = Envelope(
            event_id=uuid4(), type="ReportSubmitted", schema_version=1,
            occurred_at=datetime.now(UTC), org=org,
            actor=Actor(user="curator", role=Role.CURATOR, scope=org), correlation_id=uuid4(),
            source="documents", source_position=self.published_documents,
            aggregate_id=uuid4(), aggregate_version=1,
            payload=ReportSubmitted(report_id=report_id, level="organisation",
                                    period="2025-H2").model_dump(mode="json"))
        asyncio.run(publish(self.settings.nats_url, envelope))

    def settle(self) -> None:
        """Every stored event is in the audit log and folded into the dashboards."""
        def stored() -> int:
            return (self.registry.service.events.max_position()
                    + self.pairing.service.events.max_position()
                    + self.monitoring.store.max_position() + self.published_documents)

        wait_until(lambda: self.monitoring.audit.size() == stored()
                   and self.monitoring.dashboards.position == self.monitoring.audit.size(),
                   timeout=30, message="the dashboards to fold every stored event")

    def dashboard(self, scope: str, role: Role = Role.REGIONAL, **params: Any) -> dict[str, Any]:
        response = self.get("/monitoring/dashboard", scope, role, org=scope, **params)
        assert response.status_code == 200, response.text
        return dict(response.json())


async def publish(url: str, envelope: Envelope) -> None:
    nc = await nats.connect(url)
    try:
        # The stream is declared by its owner only, and the documents service is not running.
        await ensure_streams(nc.jetstream(), owner=envelope.source)
        await nc.jetstream().publish(envelope.subject, envelope.to_bytes(), headers=signed_headers(envelope))
    finally:
        await nc.close()


async def stream_events(url: str, source: str) -> list[Envelope]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(stream_name(source))).state.last_seq
        return [Envelope.from_bytes((await js.get_msg(stream_name(source), seq=s)).data)
                for s in range(1, last + 1)]
    finally:
        await nc.close()


@pytest.fixture
def year(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[Year]:
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry = RegistryRuntime(settings)
    pairing = PairingRuntime(settings, today=clock.today)
    init_key(settings, exist_ok=True)
    monitoring = MonitoringRuntime(
        settings, head_interval=60, clock=clock, calendar_interval=3600,
        calendar=CalendarConfig(region="demo", start=date(2025, 9, 1)))
    with TestClient(create_app(settings, [registry, pairing, monitoring])) as client:
        yield Year(client, settings, registry, pairing, monitoring, clock)


def read_model(monitoring: MonitoringRuntime) -> tuple[dict[tuple[str, str], float], list[Any]]:
    """Every dashboard count (rounded: sums in another order may differ in the last bit) and
    every row of the fold's state."""
    with monitoring.read_engine.connect() as conn:
        counts = {(r.scope, r.metric): round(r.value, 9)
                  for r in conn.execute(sa.select(counts_table)) if r.value}
        return counts, sorted(tuple(r) for r in conn.execute(sa.select(state_table)))


HIDDEN = hidden_text(5)


def small_group(reason: str) -> dict[str, Any]:
    """A mean hidden to protect a small group, as every view reads it."""
    return {"count": HIDDEN, "mean": None, "suppressed": True, "reason": reason,
            "explanation": reason_text(reason, 5)}


def strip(dashboard: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in ("as_of", "events")}


def kpis(dashboard: dict[str, Any]) -> dict[str, tuple[Any, Any, Any, Any]]:
    return {k["code"]: (k["numerator"], k["denominator"], k["value"], k["met"])
            for k in dashboard["kpis"]}


def test_a_school_year_at_three_levels(year: Year) -> None:  # noqa: PLR0915 - one story
    y, p = year, year.people
    # --- the territory and its contingent ---------------------------------------------------
    y.organisation("demo", "region", None)
    y.organisation("m1", "municipality", "demo")
    y.organisation("m2", "municipality", "demo")
    y.organisation("school-a", "school", "m1")
    y.organisation("school-b", "school", "m1")
    y.organisation("employer-1", "employer", "m1")
    y.organisation("school-c", "school", "m2")
    contingent = {"school_year": "2025-2026", "students_total": 0, "students_10_19": 0,
                  "students_15_19": 0, "teachers_total": 0, "young_teachers": 0, "enterprises": 0}
    for code, _path, figures in (
            ("school-a", A, {"students_total": 30, "students_10_19": 20, "students_15_19": 10,
                             "teachers_total": 12, "young_teachers": 5}),
            ("school-b", B, {"students_total": 15, "students_10_19": 10, "students_15_19": 5,
                             "teachers_total": 8, "young_teachers": 2}),
            ("m1", "demo/m1", {"enterprises": 5})):
        response = y.client.put(f"/registry/organisations/{y.org[code]}/contingent",
                                json={**contingent, **figures},
                                headers=y.headers(Role.REGIONAL, "demo"))
        assert response.status_code == 204, response.text

    # --- the bases ----------------------------------------------------------------------------
    p["T1"] = y.person("mentor", A, "teacher", "1985", capacity=3)
    p["T2"] = y.person("mentor", A, "teacher", "1980")
    p["S1"] = y.person("mentor", A, "student", "2009")
    for n in range(1, 6):
        p[f"a{n}"] = y.person("mentee", A, "student", "2013", grade=7)
    p["TB"] = y.person("mentor", B, "teacher", "1979")
    p["b1"] = y.person("mentee", B, "student", "2013", grade=7)
    p["b2"] = y.person("mentee", B, "student", "2012", grade=8)
    p["E1"] = y.person("mentor", "demo/m1/employer-1", "employer", "1975")
    p["TC"] = y.person("mentor", C, "teacher", "1982")
    p["c1"] = y.person("mentee", C, "student", "2013", grade=7)
    teacher_student = {path: y.programme(path, "учитель – ученик") for path in (A, B, C)}
    student_student = y.programme(A, "ученик – ученик")
    y.settle()
    moments: list[tuple[datetime, dict[str, dict[str, Any]]]] = []

    def checkpoint() -> None:
        y.settle()
        live = {scope: y.dashboard(scope) for scope in ("demo", "demo/m1", A, B)}
        moments.append((datetime.now(UTC), live))

    checkpoint()
    region = moments[0][1]["demo"]
    assert region["mentors"]["total"] == 6 and region["mentees"]["total"] == 8
    assert region["pairs"]["formed"] == 0

    # --- pairs and a term of meetings -------------------------------------------------------
    wait_until(lambda: y.pairing.pools is not None and y.pairing.pools.position("registry")
               >= y.registry.service.events.max_position(), message="pairing pools")
    y.clock.set_day(date(2025, 9, 8))
    p1 = y.pair(A, teacher_student[A], p["T1"], p["a1"], p["a2"], p["a3"])
    p2 = y.pair(A, teacher_student[A], p["T2"], p["a4"])
    p3 = y.pair(A, student_student, p["S1"], p["a5"])
    p4 = y.pair(B, teacher_student[B], p["TB"], p["b1"])
    p5 = y.pair(C, teacher_student[C], p["TC"], p["c1"])
    m = {}
    m["p1_intro"] = y.meeting(A, p1, "intro", date(2025, 9, 15))
    m["p2_intro"] = y.meeting(A, p2, "intro", date(2025, 9, 16))
    y.meeting(A, p3, "intro", date(2025, 9, 17))
    m["p4_intro"] = y.meeting(B, p4, "intro", date(2025, 9, 18))
    y.meeting(C, p5, "intro", date(2025, 9, 19))
    m["p1_trial"] = y.meeting(A, p1, "trial", date(2025, 10, 6))
    y.meeting(A, p2, "trial", date(2025, 10, 7))
    m["p1_planning"] = y.meeting(A, p1, "planning", date(2025, 10, 20))
    y.post(f"/pairing/pairs/{p3}/dissolve", {"reason": "Смена школы наставником"}, A)
    y.feedback(A, p1, m["p1_intro"], T1=9, a1=8, a2=7, a3=10)
    y.feedback(A, p1, m["p1_trial"], T1=8, a1=6)
    y.feedback(A, p1, m["p1_planning"], T1=7)
    y.feedback(A, p2, m["p2_intro"], T2=7, a4=5)
    y.feedback(B, p4, m["p4_intro"], TB=6, b1=9)
    checkpoint()

    # --- the second half: final meetings, surveys -----------------------------------------------
    y.meeting(A, p1, "regular", date(2025, 11, 10))
    y.meeting(B, p4, "trial", date(2025, 11, 12))
    m["p1_final"] = y.meeting(A, p1, "final", date(2025, 12, 15))
    y.feedback(A, p1, m["p1_final"], T1=10, a1=9, a2=9, a3=8)
    y.post(f"/pairing/pairs/{p1}/complete", {}, A)

    def quality(who: str, role: str, overall: int, pair: str) -> None:
        code = f"quality-{role}"
        questions = next(q for q in y.get("/monitoring/questionnaires", A, Role.CURATOR).json()
                         if q["code"] == code)["question"]
        answers = {q["key"]: (overall if q["key"] == "overall" else 5) for q in questions}
        y.survey(A, code, "quality", role, who, answers, pair=pair)

    quality("a1", "mentee", 9, p1)
    quality("a2", "mentee", 7, p1)
    quality("a3", "mentee", 8, p1)
    quality("a4", "mentee", 10, p2)
    quality("a5", "mentee", 6, p3)
    quality("T1", "mentor", 9, p1)
    y.settle()
    before = y.dashboard(A)
    assert kpis(before)["participants_satisfied"] == (4, 6, 0.6667, False)
    quality("a2", "mentee", 9, p1)  # answered again: the latest answer replaces the first
    entry = dict.fromkeys(("motivation_learning", "motivation_confidence", "competency_subject",
                           "competency_teamwork", "professional_choice"), 5)
    exits = {"a1": {"motivation_learning": 8, "motivation_confidence": 8, "competency_subject": 6,
                    "competency_teamwork": 7, "professional_choice": 9},
             **{f"a{n}": dict.fromkeys(entry, 4 + n) for n in range(2, 6)}}
    for who, scores in exits.items():
        y.survey(A, "growth-student", "growth_entry", "mentee", who, entry, form="teacher-student")
        y.survey(A, "growth-student", "growth_exit", "mentee", who, scores, form="teacher-student")
    checkpoint()

    # --- every figure, by hand ---------------------------------------------------------------
    final = moments[-1][1]
    school_a, school_b, m1, demo = final[A], final[B], final["demo/m1"], final["demo"]
    assert school_a["mentors"] == {"total": 3, "by_category": {"student": 1, "teacher": 2},
                                   "by_form": {"student-student": 1, "teacher-student": 2}}
    assert school_a["mentees"] == {"total": 5, "by_category": {"student": 5}, "minors": 5,
                                   "by_form": {"student-student": 1, "teacher-student": 4}}
    assert school_a["pairs"] == {"formed": 3, "groups": 1,
                                 "by_status": {"active": 1, "completed": 1, "dissolved": 1},
                                 "by_form": {"student-student": 1, "teacher-student": 2}}
    assert school_a["meetings"]["held"] == 8
    assert school_a["meetings"]["by_kind"] == {"final": 1, "intro": 3, "planning": 1,
                                               "regular": 1, "trial": 2}
    assert school_a["meetings"]["per_pair"] == round(8 / 3, 4)
    assert school_a["meetings"]["by_month"] == [
        {"month": "2025-09", "meetings": 3, "pairs": 3, "per_pair": 1.0},
        {"month": "2025-10", "meetings": 3, "pairs": 2, "per_pair": 1.5},
        {"month": "2025-11", "meetings": 1, "pairs": 1, "per_pair": 1.0},
        {"month": "2025-12", "meetings": 1, "pairs": 1, "per_pair": 1.0}]
    # P1: 5 meetings × 4 members, P2: 2 × 2, P3: 1 × 2; 5 mentor and 8 mentee answers.
    assert school_a["feedback"] == {"expected": 26, "submitted": 13, "completion": 0.5}
    # 5 mentor answers but from two people (T1, T2), 8 mentee answers from four (a1–a4): a
    # mean over so few people could describe one of them.
    assert school_a["satisfaction"]["feedback"] == {
        "mentor": small_group("primary"), "mentee": small_group("primary")}
    assert school_a["satisfaction"]["survey"]["mentee"] == {"count": 5, "mean": 8.4,
                                                            "suppressed": False}  # 9+9+8+10+6
    assert school_a["satisfaction"]["survey"]["mentor"] == small_group("primary")
    assert school_a["growth"] == {
        "motivational": {"count": 5, "mean": 2.6, "suppressed": False},   # (3+1+2+3+4)/5
        "competency": {"count": 5, "mean": 2.3, "suppressed": False},     # (1.5+1+2+3+4)/5
        "professional": {"count": 5, "mean": 2.8, "suppressed": False},   # (4+1+2+3+4)/5
        "overall": {"count": 5, "mean": 2.52, "suppressed": False}}       # (2.6+1+2+3+4)/5
    assert school_a["surveys"] == {"total": 17, "by_stage": {"growth_entry": 5, "growth_exit": 5,
                                                             "quality": 7}}
    assert school_a["contingent"]["students_10_19"] == 20
    assert kpis(school_a) == {"students_mentees": (5, 20, 0.25, False),
                              "students_mentors": (1, 10, 0.1, True),
                              # Hidden beside school B's 2 young teachers: m1's 0/7 minus
                              # A's 0/5 would give B's 0/2 (complementary suppression).
                              "young_teachers_mentees": (HIDDEN, HIDDEN, None, None),
                              "enterprises_mentors": (0, 0, None, None),
                              "participants_satisfied": (5, 6, 0.8333, True),
                              # no training confirmed, and fewer than 5 mentors: hidden
                              "mentors_trained": (HIDDEN, HIDDEN, None, None)}
    young_a = next(k for k in school_a["kpis"] if k["code"] == "young_teachers_mentees")
    assert young_a["suppressed"] and young_a["reason"] == "complementary"

    assert school_b["pairs"]["by_status"] == {"active": 1, "completed": 0, "dissolved": 0}
    assert school_b["feedback"] == {"expected": 4, "submitted": 2, "completion": 0.5}
    # One answer a side: a mean would describe one person.
    assert school_b["satisfaction"]["feedback"]["mentor"]["suppressed"] is True
    young = next(k for k in school_b["kpis"] if k["code"] == "young_teachers_mentees")
    assert young["suppressed"] and young["numerator"] == HIDDEN and young["value"] is None
    assert young["reason"] == "primary"
    # b2 is registered but paired with nobody: not active, so not in the numerator.
    assert kpis(school_b)["students_mentees"] == (1, 10, 0.1, False)

    assert m1["mentors"]["total"] == 5 and m1["mentees"]["total"] == 7
    assert m1["mentors"]["by_category"] == {"employer": 1, "student": 1, "teacher": 3}
    assert m1["pairs"]["by_status"] == {"active": 2, "completed": 1, "dissolved": 1}
    assert m1["meetings"]["held"] == 10
    assert m1["meetings"]["by_month"][0] == {"month": "2025-09", "meetings": 4, "pairs": 4,
                                             "per_pair": 1.0}
    assert m1["meetings"]["by_month"][2] == {"month": "2025-11", "meetings": 2, "pairs": 2,
                                             "per_pair": 1.0}
    assert m1["feedback"] == {"expected": 30, "submitted": 15, "completion": 0.5}
    assert m1["satisfaction"]["feedback"] == {
        "mentor": small_group("primary"),  # T1, T2, TB
        "mentee": {"count": 9, "mean": 7.89, "suppressed": False}}   # a1–a4, b1: 62+9 over 9
    assert kpis(m1) == {"students_mentees": (6, 30, 0.2, False),
                        "students_mentors": (1, 15, 0.0667, False),
                        "young_teachers_mentees": (0, 7, 0.0, False),
                        "enterprises_mentors": (1, 5, 0.2, True),
                        "participants_satisfied": (5, 6, 0.8333, True),
                        # five mentors, but hidden by the disclosure control with its units
                        "mentors_trained": (HIDDEN, HIDDEN, None, None)}
    assert [u["scope"] for u in m1["units"]] == ["demo/m1/employer-1", A, B]
    assert next(u for u in m1["units"] if u["scope"] == A)["meetings.held"] == 8

    assert demo["mentors"]["total"] == 6 and demo["mentees"]["total"] == 8
    assert demo["pairs"]["by_status"] == {"active": 3, "completed": 1, "dissolved": 1}
    assert demo["meetings"]["held"] == 11
    assert demo["feedback"] == {"expected": 32, "submitted": 15, "completion": 0.4688}
    assert kpis(demo)["students_mentees"] == (7, 30, 0.2333, False)  # school C declared nothing
    assert [u["scope"] for u in demo["units"]] == ["demo/m1", "demo/m2"]

    # --- as of each moment, from the audit log alone, the figures shown live then ------------
    for moment, live in moments:
        for scope, shown in live.items():
            replayed = y.dashboard(scope, as_of=moment.isoformat())
            assert replayed["as_of"] is not None
            assert strip(replayed) == strip(shown), (moment, scope)
    assert y.dashboard("demo", as_of="2020-01-01")["mentors"]["total"] == 0
    assert y.get("/monitoring/kpis", "demo", org=A, as_of="not-a-date").json()["code"] == "INVALID_DATE"

    # --- a rebuild from the audit log, interrupted and resumed, gives the same read model ------
    shown = read_model(y.monitoring)
    size = y.monitoring.audit.size()
    first = rebuild(y.settings, restart=True, page=7, commit_every=20, max_events=size // 2)
    assert first.events < size and y.dashboard("demo")["mentors"]["total"] >= 0
    rest = rebuild(y.settings, page=7, commit_every=20)  # carries on from where it stopped
    assert rest.resumed_from == first.position and rest.position == size
    assert read_model(y.monitoring) == shown

    # --- scoping ------------------------------------------------------------------------------
    curator_a = y.get("/monitoring/organisations/demo/m1/school-b/dashboard", A, Role.CURATOR)
    assert curator_a.status_code == 403 and curator_a.json()["code"] == "FORBIDDEN"
    assert y.get("/monitoring/organisations/demo/m1/school-a/dashboard", A,
                 Role.CURATOR).json()["mentors"]["total"] == 3
    assert y.get("/monitoring/municipalities/demo/m2/dashboard", "demo/m1",
                 Role.MUNICIPAL).status_code == 403
    assert y.get("/monitoring/regions/demo/dashboard", "demo/m1", Role.MUNICIPAL).status_code == 403
    assert y.get("/monitoring/municipalities/demo/m1/dashboard", "demo/m1",
                 Role.MUNICIPAL).json()["mentees"]["total"] == 7
    assert y.get("/monitoring/kpis", "demo", Role.AUDITOR, org="demo").status_code == 200
    assert y.get("/monitoring/dashboard", A, Role.PARTICIPANT).status_code == 403
    assert y.get("/monitoring/organisations/demo/m1/nowhere/dashboard", "demo").status_code == 404
    stored = y.monitoring.store.max_position()
    refused = y.client.post("/monitoring/surveys", json={
        "organisation": A, "survey": "quality-mentee", "stage": "quality",
        "respondent_role": "mentee", "answers": {"overall": 11}},
        headers=y.headers(Role.CURATOR, A))
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_SURVEY_ANSWERS"
    auditor = y.client.post("/monitoring/surveys", json={
        "organisation": A, "survey": "quality-curator", "stage": "quality",
        "respondent_role": "curator", "answers": {}}, headers=y.headers(Role.AUDITOR, "demo"))
    assert auditor.status_code == 403
    assert y.monitoring.store.max_position() == stored  # refusals changed nothing

    # --- school-year numerators: distinct people active in the period ----------------------
    # The pupil-mentor S1 left school A's pair P3 (dissolved above) and now mentors b2 in school
    # B: active in two schools of m1, S1 counts once at each school and once, not twice, at m1
    # and in the region.
    student_student_b = y.programme(B, "ученик – ученик")
    wait_until(lambda: y.pairing.pools is not None and y.pairing.pools.position("registry")
               >= y.registry.service.events.max_position(), message="pairing pools")
    p6 = str(y.post("/pairing/pairs", {"programme_id": student_student_b, "mentor_id": p["S1"],
                                       "mentee_ids": [p["b2"]]}, "demo/m1", Role.MUNICIPAL)["id"])
    y.meeting(B, p6, "intro", date(2025, 12, 16))
    y.settle()

    def numerators(period: str | None = None) -> dict[str, tuple[Any, Any]]:
        """(students aged 10–19 as mentees, aged 15–19 as mentors) of each scope."""
        found = {}
        for scope in (A, B, "demo/m1", "demo"):
            shown = kpis(y.dashboard(scope, **({"period": period} if period else {})))
            found[scope] = (shown["students_mentees"][0], shown["students_mentors"][0])
        return found

    # Pairs are stamped when entered (this run's real date), meetings with their own dates in
    # 2025/26: both school years see the same people. Mentees: a1–a5 at A; b1, b2 at B; c1 in
    # m2. Pupil-mentors aged 15–19: S1 alone, at A and at B.
    by_hand = {A: (5, 1), B: (2, 1), "demo/m1": (7, 1), "demo": (8, 1)}
    assert numerators("2025/26") == by_hand
    latest = y.dashboard("demo")["period"]
    assert latest is not None and latest >= "2025/26"
    assert numerators() == by_hand
    assert y.dashboard(B, period="2025/26")["period_label"] == "2025/26 учебный год"
    assert kpis(y.dashboard("demo/m1", period="2025/26"))["students_mentors"] == (1, 15, 0.0667, False)
    assert numerators("2025/26-1") == by_hand  # every meeting of 2025/26 was in its 1st half
    assert numerators("2025/26-2") == {A: (0, 0), B: (0, 0), "demo/m1": (0, 0), "demo": (0, 0)}
    assert y.get("/monitoring/dashboard", "demo", org="demo", period="весна").json()["code"] \
        == "INVALID_PERIOD"

    # a4 withdraws consent today: the periods under way from today on lose a4, the school year
    # 2025/26 (over before today) keeps a4.
    response = y.client.post(f"/registry/people/{p['a4']}/consent/withdraw", json={},
                             headers=y.headers(Role.CURATOR, A))
    assert response.status_code == 204, response.text
    y.settle()
    assert numerators("2025/26") == by_hand
    # The withdrawal is stamped with this run's real date, in a school year after 2025/26.
    current = periods.school_year_of(local_today())
    assert current.code > "2025/26"
    after = {A: (4, 1), B: (2, 1), "demo/m1": (6, 1), "demo": (7, 1)}
    assert numerators(current.code) == after
    assert numerators(periods.half_of(local_today()).code) == after
    assert numerators() == after  # the dashboard's default: the latest school year


def test_the_calendar_emits_and_clears_report_due(year: Year) -> None:
    y = year
    y.organisation("demo", "region", None)
    y.organisation("m1", "municipality", "demo")
    y.organisation("m2", "municipality", "demo")
    y.organisation("school-a", "school", "m1")
    y.organisation("school-b", "school", "m1")
    y.organisation("employer-1", "employer", "m1")
    y.organisation("school-c", "school", "m2")
    y.settle()

    def tick(day: date) -> list[tuple[str, int, bool]]:
        y.clock.set_day(day)
        before = y.monitoring.store.max_position()
        y.monitoring.calendar.tick()
        y.settle()
        events = asyncio.run(stream_events(y.settings.nats_url, "monitoring"))
        return sorted((e.payload["report_id"], e.payload["days_left"], e.payload["overdue"])
                      for e in events[before:] if e.type == "ReportDue")

    assert tick(date(2025, 12, 1)) == []
    # 14 days before 20.12 every school is reminded; not the employer, not yet the municipalities.
    assert tick(date(2025, 12, 6)) == [("org:demo/m1/school-a:2025-12-20", 14, False),
                                       ("org:demo/m1/school-b:2025-12-20", 14, False),
                                       ("org:demo/m2/school-c:2025-12-20", 14, False)]
    assert tick(date(2025, 12, 6)) == []  # nothing twice
    y.submit_report("org:demo/m1/school-a:2025-12-20", A)
    y.settle()
    assert tick(date(2025, 12, 21)) == [("mun:demo/m1:2025-12-25", 4, False),
                                        ("mun:demo/m2:2025-12-25", 4, False),
                                        ("org:demo/m1/school-b:2025-12-20", -1, True),
                                        ("org:demo/m2/school-c:2025-12-20", -1, True)]
    late = y.get("/monitoring/reports/overdue", "demo/m1", Role.MUNICIPAL).json()
    assert [(r["report_id"], r["days_overdue"]) for r in late] == [
        ("org:demo/m1/school-b:2025-12-20", 1)]
    everyone = y.get("/monitoring/reports/overdue", "demo").json()
    assert [r["path"] for r in everyone] == [B, C]
    state = y.get("/monitoring/calendar", A, Role.CURATOR).json()
    assert {r["report_id"]: r["status"] for r in state["reports"]} == {
        "org:demo/m1/school-a:2025-12-20": "submitted"}
    # The late school sees which notices went out: the reminder 14 days before, then overdue.
    state = y.get("/monitoring/calendar", B, Role.CURATOR).json()
    assert {r["report_id"]: (r["status"], r["notices_sent"]) for r in state["reports"]} == {
        "org:demo/m1/school-b:2025-12-20": ("overdue", [{"kind": "reminder", "days_before": 14},
                                                        {"kind": "overdue"}])}
    y.submit_report("org:demo/m1/school-b:2025-12-20", B)
    y.settle()
    assert y.get("/monitoring/reports/overdue", "demo/m1", Role.MUNICIPAL).json() == []
    assert [r["path"] for r in y.get("/monitoring/reports/overdue", "demo").json()] == [C]
    # Past the municipalities' deadline they are late at the region.
    assert tick(date(2025, 12, 26)) == [("mun:demo/m1:2025-12-25", -1, True),
                                        ("mun:demo/m2:2025-12-25", -1, True)]
    late = y.get("/monitoring/reports/overdue", "demo").json()
    assert [r["report_id"] for r in late] == ["org:demo/m2/school-c:2025-12-20",
                                              "mun:demo/m1:2025-12-25", "mun:demo/m2:2025-12-25"]


def test_a_school_owes_no_report_for_a_period_that_ended_before_it_was_registered(
        year: Year) -> None:
    y = year
    y.organisation("demo", "region", None)
    y.organisation("m1", "municipality", "demo")
    y.organisation("school-a", "school", "m1")
    y.clock.set_day(date(2025, 12, 30))  # after the deadline, but the half is not over yet
    y.organisation("school-b", "school", "m1")
    y.clock.set_day(date(2026, 2, 10))  # a school opened in the second half
    y.organisation("school-new", "school", "m1")
    y.settle()
    new = "demo/m1/school-new"

    before = y.monitoring.store.max_position()
    y.monitoring.calendar.tick()
    y.settle()
    events = asyncio.run(stream_events(y.settings.nats_url, "monitoring"))
    assert sorted(e.payload["report_id"] for e in events[before:] if e.type == "ReportDue") == [
        "mun:demo/m1:2025-12-25", "org:demo/m1/school-a:2025-12-20",
        "org:demo/m1/school-b:2025-12-20"]
    # The municipality does not see the new school as late with the first half's report.
    late = y.get("/monitoring/reports/overdue", "demo/m1", Role.MUNICIPAL).json()
    assert [r["path"] for r in late] == [A, B, "demo/m1"]
    # The calendar its curator's worklist reads: nothing due yet for the new school (its first
    # report, 31.05, is beyond reminder reach), the first half's report overdue for school B.
    state = y.get("/monitoring/calendar", new, Role.CURATOR).json()
    assert state["reports"] == []
    state = y.get("/monitoring/calendar", B, Role.CURATOR).json()
    assert {r["report_id"]: r["status"] for r in state["reports"]} == {
        "org:demo/m1/school-b:2025-12-20": "overdue"}
    # Nor can anyone be reminded of a report it never owed.
    response = y.client.post("/monitoring/notifications/remind",
                             json={"report_id": "org:demo/m1/school-new:2025-12-20"},
                             headers=y.headers(Role.MUNICIPAL, "demo/m1"))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "REPORT_NOT_OVERDUE"


def test_a_participant_answers_only_for_themselves_in_their_own_pair(year: Year) -> None:
    y, p = year, year.people
    y.organisation("demo", "region", None)
    y.organisation("m1", "municipality", "demo")
    y.organisation("school-a", "school", "m1")
    p["T1"] = y.person("mentor", A, "teacher", "1985")
    p["a1"] = y.person("mentee", A, "student", "2013", grade=7)
    programme = y.programme(A, "учитель – ученик")
    wait_until(lambda: y.pairing.pools is not None and y.pairing.pools.position("registry")
               >= y.registry.service.events.max_position(), message="pairing pools")
    pair = y.pair(A, programme, p["T1"], p["a1"])
    y.settle()
    stored = y.monitoring.store.max_position()
    questions = next(q for q in y.get("/monitoring/questionnaires", A, Role.CURATOR).json()
                     if q["code"] == "quality-mentee")["question"]
    answers = {q["key"]: 9 for q in questions}

    def answer(role: str = "mentee", survey: str = "quality-mentee", **fields: Any) -> Any:
        body = {"organisation": A, "survey": survey, "stage": "quality", "respondent_role": role,
                "answers": answers, **fields}
        return y.client.post("/monitoring/surveys", json=body,
                             headers=y.headers(Role.PARTICIPANT, A, user=p["a1"]))

    def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    assert code(answer()) == (422, "PAIR_REQUIRED")
    assert code(answer(pair_id=str(uuid4()))) == (404, "PAIR_NOT_FOUND")
    assert code(answer(pair_id=pair, respondent_id=p["T1"])) == (403, "FORBIDDEN")
    assert code(answer("curator", "quality-curator", pair_id=pair)) == (403, "FORBIDDEN")
    assert code(answer("mentor", "quality-mentor", pair_id=pair)) == (422, "SURVEY_ROLE_MISMATCH")
    assert y.monitoring.store.max_position() == stored  # refusals changed nothing
    # The own answer counts once, however often it is sent: the latest replaces the earlier.
    for _ in range(6):
        assert answer(pair_id=pair).status_code == 201
    y.settle()
    assert y.dashboard(A)["surveys"]["by_stage"] == {"quality": 6}
    satisfied = next(k for k in y.dashboard(A)["kpis"] if k["code"] == "participants_satisfied")
    assert satisfied["suppressed"]  # one person, however many answers
    with y.monitoring.read_engine.connect() as conn:
        quality = conn.execute(sa.select(state_table.c.key).where(state_table.c.kind == "qual")).scalars()
        assert list(quality) == [f"{p['a1']}|{pair}|quality-mentee"]
