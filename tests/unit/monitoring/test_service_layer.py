"""The monitoring service layer on its own: an in-memory event store, fake read models, a fake
clock and a fake relay — no database file, no NATS. Rights, scopes and rules are decided in
``MonitoringService``, so they are checked here through its commands and queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from services.monitoring.application import MonitoringService, MonitoringStore
from services.monitoring.calendar import CalendarConfig
from services.monitoring.commands import SurveyAnswers
from services.monitoring.dashboards import FoldSettings
from services.monitoring.reporting import ReportingCalendarService
from services.monitoring.surveys import load_questionnaires
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.settings import Settings
from shared.store import CommandContext

REGION = "demo"
SCHOOL = "demo/m1/s1"
OTHER_SCHOOL = "demo/m2/s9"
NOW = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


class InMemoryStore(MonitoringStore):
    """The service's event store on eventsourcing's POPO recorder: in memory, nothing on disk."""

    def __init__(self) -> None:
        Application.__init__(self, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


class FakeViews:
    """The dashboard read model as plain dicts (what the projector would have written)."""

    def __init__(self) -> None:
        self.orgs = {REGION: "Демо-регион", "demo/m1": "Первый район", "demo/m2": "Второй район",
                     SCHOOL: "Школа 1", OTHER_SCHOOL: "Школа 9"}
        self.counts: dict[str, dict[str, float]] = {scope: {"organisations": 1.0}
                                                    for scope in self.orgs}
        self.pairs: dict[UUID, tuple[str, list[str]]] = {}
        self.state: dict[tuple[str, str], Any] = {}

    def is_known(self, scope: str) -> bool:
        return scope in self.orgs

    def names(self, scopes: list[str]) -> dict[str, str]:
        return {scope: self.orgs[scope] for scope in scopes if scope in self.orgs}

    def scope_counts(self, scope: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        children = {child: counts for child, counts in self.counts.items()
                    if child.rpartition("/")[0] == scope and child != scope}
        return self.counts.get(scope, {}), children

    def counts_with_units(self, scope: str, metrics: object
                          ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        return self.scope_counts(scope)

    def pair_members(self, pair_id: UUID) -> tuple[str, list[str]] | None:
        return self.pairs.get(pair_id)

    def fold_state(self, wanted: dict[str, set[str]]) -> list[tuple[str, str, Any]]:
        return [(kind, key, self.state[kind, key]) for kind, keys in wanted.items()
                for key in sorted(keys) if (kind, key) in self.state]


class FakeProjector:
    """What the calendar asks of the dashboards: the organisations and the submitted reports."""

    def organisations(self) -> dict[str, dict[str, Any]]:
        return {REGION: {"kind": "region"}, "demo/m1": {"kind": "municipality"},
                SCHOOL: {"kind": "school"}}

    def submitted_reports(self) -> list[str]:
        return []


class FakeConfigs:
    def __init__(self) -> None:
        self.stored: dict[str, CalendarConfig] = {}

    def get(self, region: str) -> CalendarConfig | None:
        return self.stored.get(region)

    def put(self, config: CalendarConfig) -> None:
        self.stored[config.region] = config


class World:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.views = FakeViews()
        self.configs = FakeConfigs()
        self.relay_wakes = 0
        calendar = ReportingCalendarService(self.store, FakeProjector(),  # type: ignore[arg-type]
                                            self.configs, REGION, lambda: NOW)  # type: ignore[arg-type]
        self.service = MonitoringService(
            Settings(region=REGION, token_secret="x"), self.store, self.views,  # type: ignore[arg-type]
            SimpleNamespace(store=None), calendar, FoldSettings(),  # type: ignore[arg-type]
            load_questionnaires(), lambda: NOW)
        self.service.notify_relay = self._wake

    def _wake(self) -> None:
        self.relay_wakes += 1

    def stored_types(self) -> list[str]:
        return [type(self.store.mapper.to_domain_event(n)).__qualname__.rpartition(".")[2]
                for n in self.store.notifications_after(0, 100)]


def actor(role: Role, scope: str, user: str = "u1") -> Actor:
    return Actor(user=user, role=role, scope=OrgPath.parse(scope))


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def world() -> World:
    return World()


# --- dashboards: who sees which unit -----------------------------------------------------------

def test_a_curator_sees_their_own_school_by_default_and_no_other(world: World) -> None:
    curator = actor(Role.CURATOR, SCHOOL)
    assert world.service.dashboard(curator, None)["scope"] == SCHOOL
    assert code_of(lambda: world.service.dashboard(curator, OTHER_SCHOOL)) == "FORBIDDEN"
    assert code_of(lambda: world.service.dashboard(curator, "demo/m1")) == "FORBIDDEN"


def test_a_municipality_sees_its_schools_and_the_region_sees_every_unit(world: World) -> None:
    municipal = actor(Role.MUNICIPAL, "demo/m1")
    body = world.service.dashboard(municipal, None)
    assert body["scope"] == "demo/m1" and body["as_of"] is None
    assert world.service.dashboard(municipal, SCHOOL)["scope"] == SCHOOL
    assert code_of(lambda: world.service.dashboard(municipal, OTHER_SCHOOL)) == "FORBIDDEN"
    regional = actor(Role.REGIONAL, REGION)
    assert world.service.kpis(regional, OTHER_SCHOOL, None)["scope"] == OTHER_SCHOOL


def test_participants_get_no_figures_and_unknown_or_bad_units_are_named(world: World) -> None:
    participant = actor(Role.PARTICIPANT, SCHOOL, user=str(uuid4()))
    assert code_of(lambda: world.service.dashboard(participant, None)) == "FORBIDDEN"
    regional = actor(Role.REGIONAL, REGION)
    assert code_of(lambda: world.service.dashboard(regional, "demo/m1/nowhere")) == \
        "ORGANISATION_NOT_FOUND"
    assert code_of(lambda: world.service.dashboard(regional, "Demo/М1")) == "INVALID_PATH"
    assert code_of(lambda: world.service.dashboard(regional, None, "вчера")) == "INVALID_DATE"


# --- the reporting calendar --------------------------------------------------------------------

CALENDAR = {"start": "2025-09-01", "levels": {"organisation": {"deadlines": ["12-20"], "reminders": [14]},
                       # the municipality's report on the previous school year's 2nd half
                       "municipality": {"deadlines": [{"due": "12-05", "period": "2"}]}}}


def test_only_the_regional_operator_configures_the_calendar(world: World) -> None:
    for who in (actor(Role.MUNICIPAL, "demo/m1"), actor(Role.CURATOR, SCHOOL),
                actor(Role.AUDITOR, REGION)):
        assert code_of(lambda who=who: world.service.configure_calendar(who, CALENDAR)) == \
            "FORBIDDEN"
    assert world.configs.stored == {}
    other = actor(Role.REGIONAL, "elsewhere")
    assert code_of(lambda: world.service.configure_calendar(other, CALENDAR)) == "REGION_NOT_SERVED"
    assert code_of(lambda: world.service.configure_calendar(
        actor(Role.REGIONAL, REGION), {"levels": {"organisation": {"deadlines": ["13-40"]}}})) == \
        "INVALID_CALENDAR"


def test_a_calendar_breaking_a_rule_is_refused_and_nothing_is_stored(world: World) -> None:
    regional = actor(Role.REGIONAL, REGION)
    # The municipality's deadline (03.12) before its schools' (12.12) for the same half-year.
    wrong = {"levels": {"organisation": {"deadlines": ["12-12"]},
                        "municipality": {"deadlines": ["12-03"]}}}
    with pytest.raises(DomainError) as caught:
        world.service.configure_calendar(regional, wrong)
    assert (caught.value.code, caught.value.status) == ("CALENDAR_LEVEL_ORDER", 422)
    assert "позже срока организаций (12.12)" in caught.value.message
    assert world.configs.stored == {}


def test_a_configured_calendar_shows_each_report_with_its_status(world: World) -> None:
    regional = actor(Role.REGIONAL, REGION)
    assert world.service.calendar_state(regional, None)["configured"] is False
    saved = world.service.configure_calendar(regional, CALENDAR)
    assert saved["region"] == REGION and world.configs.stored[REGION].region == REGION
    state = world.service.calendar_state(regional, None)
    assert state["configured"] is True and state["today"] == date(2025, 12, 10).isoformat()
    due = {(r["path"], r["deadline"]): (r["status"], r["days_left"]) for r in state["reports"]}
    assert due[(SCHOOL, "2025-12-20")] == ("due", 10)  # within the 14-day reminder
    assert due[("demo/m1", "2025-12-05")] == ("overdue", -5)
    # A school sees its own report, not the municipality's.
    school = world.service.calendar_state(actor(Role.CURATOR, SCHOOL), None)
    assert {r["path"] for r in school["reports"]} == {SCHOOL}
    late = world.service.overdue_reports(regional, None)
    assert [(o["path"], o["days_overdue"]) for o in late] == [("demo/m1", 5)]
    assert world.service.overdue_reports(actor(Role.CURATOR, SCHOOL), None) == []


# --- surveys -----------------------------------------------------------------------------------

def answers(**extra: Any) -> SurveyAnswers:
    body = {"organisation": SCHOOL, "survey": "quality-mentee", "stage": "quality",
            "respondent_role": "mentee", "pair_id": str(uuid4()), "form": "student-student",
            "answers": {"overall": 9, "meetings_useful": 8, "mentor_attention": 10,
                        "goals_clear": 7, "organisation": 6}}
    return SurveyAnswers.model_validate({**body, **extra})


def test_a_curator_records_answers_and_the_relay_is_woken(world: World) -> None:
    ctx = CommandContext(actor(Role.CURATOR, SCHOOL))
    response_id = world.service.record_survey(ctx, answers(respondent_id=str(uuid4())))
    assert world.store.repository.get(response_id).survey == "quality-mentee"
    assert world.stored_types() == ["SurveyRecorded"]
    assert world.relay_wakes == 1


def test_nobody_records_answers_outside_their_reach(world: World) -> None:
    for who in (actor(Role.CURATOR, OTHER_SCHOOL), actor(Role.AUDITOR, REGION)):
        assert code_of(lambda who=who: world.service.record_survey(
            CommandContext(who), answers())) == "FORBIDDEN"
    bad = answers(answers={"overall": 11})
    assert code_of(lambda: world.service.record_survey(
        CommandContext(actor(Role.CURATOR, SCHOOL)), bad)) == "INVALID_SURVEY_ANSWERS"
    assert world.stored_types() == [] and world.relay_wakes == 0


def test_a_participant_answers_only_as_themselves_in_their_own_pair(world: World) -> None:
    mentor, mentee, pair = uuid4(), uuid4(), uuid4()
    world.views.pairs[pair] = (str(mentor), [str(mentee)])
    me = CommandContext(actor(Role.PARTICIPANT, SCHOOL, user=str(mentee)))
    response_id = world.service.record_survey(me, answers(pair_id=str(pair)))
    assert world.store.repository.get(response_id).respondent_id == mentee
    assert code_of(lambda: world.service.record_survey(
        me, answers(pair_id=str(pair), respondent_id=str(mentor)))) == "FORBIDDEN"
    assert code_of(lambda: world.service.record_survey(me, answers())) == "PAIR_NOT_FOUND"
    as_mentor = CommandContext(actor(Role.PARTICIPANT, SCHOOL, user=str(mentor)))
    assert code_of(lambda: world.service.record_survey(
        as_mentor, answers(pair_id=str(pair)))) == "SURVEY_ROLE_MISMATCH"
    assert world.stored_types() == ["SurveyRecorded"]


def test_answered_surveys_leave_out_answers_outside_the_scope(world: World) -> None:
    inside, outside, pair = uuid4(), uuid4(), uuid4()
    world.views.state["qual", f"{inside}|{pair}|quality-mentee"] = [["demo", "m1", "s1"], "mentee", 9]
    world.views.state["qual", f"{outside}|{pair}|quality-mentee"] = [["demo", "m2", "s9"], "mentee", 9]
    curator = actor(Role.CURATOR, SCHOOL)
    found = world.service.answered_surveys(curator, [f"{inside}:{pair}", f"{outside}:{pair}"], None)
    assert found == [{"respondent_id": str(inside), "survey": "quality-mentee", "stage": "quality",
                      "pair_id": str(pair)}]
    assert code_of(lambda: world.service.answered_surveys(curator, ["not-an-id"], None)) == \
        "INVALID_RESPONDENT"


def test_a_participant_asks_only_whether_they_themselves_answered(world: World) -> None:
    """«Мои пары» shows which of one's own questionnaires are answered; another person's
    answers are not the participant's to ask about, whatever organisation they name."""
    me, other, pair = uuid4(), uuid4(), uuid4()
    world.views.state["qual", f"{me}|{pair}|quality-mentee"] = [["demo", "m1", "s1"], "mentee", 9]
    participant = actor(Role.PARTICIPANT, SCHOOL, user=str(me))
    assert world.service.answered_surveys(participant, [f"{me}:{pair}"], "demo") == [
        {"respondent_id": str(me), "survey": "quality-mentee", "stage": "quality",
         "pair_id": str(pair)}]
    assert code_of(lambda: world.service.answered_surveys(
        participant, [f"{me}:{pair}", f"{other}:{pair}"], None)) == "FORBIDDEN"
