"""The fold: events (plain dicts, decoded once with orjson) into counts per organisation, plus
the little state the counts need (who was counted, each respondent's latest answer)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

import orjson

from services.monitoring import kpi, surveys
from shared.events import CATALOGUE, current_payload
from shared.logging import get_logger

from .activity import mark_active, withdraw
from .tables import (
    DEMO_LOADER,
    FLAG_KINDS,
    GROWTH_SCALE,
    STATE_KINDS,
    Counts,
    Deltas,
    OrgKey,
    _key_text,
    key_scopes,
    school_year_of,
)

log = get_logger(__name__)


@dataclass
class FoldSettings:
    catalogue: kpi.Catalogue = field(default_factory=kpi.load_catalogue)
    questionnaires: Mapping[str, surveys.Questionnaire] = field(
        default_factory=surveys.load_questionnaires)

    @property
    def threshold(self) -> int:
        return self.catalogue.settings.satisfaction_threshold

    @property
    def min_group(self) -> int:
        return self.catalogue.settings.min_group


def _counter() -> defaultdict[str, float]:
    return defaultdict(float)


def new_deltas() -> Deltas:
    return defaultdict(_counter)


@functools.lru_cache(maxsize=4096)
def _person_figures(role: str, category: str, birth_year: int, year: str) -> tuple[str, ...]:
    """The KPI counts of a registered person: the same few combinations recur millions of times."""
    person = SimpleNamespace(category=category, birth_year=birth_year)
    figures = kpi.mentor_figures if role == "mentor" else kpi.mentee_figures
    return figures(person, year)  # type: ignore[arg-type]


class DashboardFold:
    """Counts and the state they depend on, in memory. ``apply`` takes one decoded envelope."""

    def __init__(self, settings: FoldSettings | None = None) -> None:
        self.settings = settings or FoldSettings()
        #: organisation key → metric → change since the last ``take_deltas``
        self.deltas: Deltas = new_deltas()
        self.state: dict[str, dict[str, Any]] = {k: {} for k in STATE_KINDS}
        self.dirty: dict[str, set[str]] = {k: set() for k in STATE_KINDS}
        self.submitted_reports: list[str] = []
        #: (level, scope, parent, metric) → change, added to that scope only: distinct people
        #: per period are counted once per scope, not summed up from the organisations.
        self.scoped: defaultdict[tuple[str, str, str | None, str], float] = defaultdict(float)
        self._handlers: dict[str, Callable[[OrgKey, dict[str, Any], dict[str, Any]], None]] = {
            "OrganisationRegistered": self._organisation,
            "ContingentDeclared": self._contingent,
            "MentorRegistered": self._mentor,
            "MenteeRegistered": self._mentee,
            "ConsentRecorded": self._consent_recorded,
            "ConsentWithdrawn": self._consent_withdrawn,
            "ProgrammeLaunched": self._programme,
            "PairFormed": self._pair_formed,
            # A proposal to another organisation's mentor (``PairProposed``) is not a pair and
            # is not counted; once confirmed it counts exactly like a formed pair, once, at the
            # mentees' organisation (the envelope's path), never at the mentor's.
            "PairProposalConfirmed": self._pair_formed,
            "PairCompleted": self._pair_closed,
            "PairDissolved": self._pair_closed,
            "MeetingHeld": self._meeting,
            "FeedbackSubmitted": self._feedback,
            "SurveyRecorded": self._survey,
            "ReportSubmitted": self._report_submitted,
            "TrainingConfirmed": self._training_confirmed,
        }
        self.handled: frozenset[str] = frozenset(self._handlers)
        self._versions = {kind: spec.version for kind, spec in CATALOGUE.items()}

    # -- state helpers --

    def _put(self, kind: str, key: str, value: Any) -> None:
        self.state[kind][key] = value
        self.dirty[kind].add(key)

    def _add(self, org: OrgKey, metric: str, amount: float = 1) -> None:
        self.deltas[org][metric] += amount

    def _add_scoped(self, level: str, scope: str, parent: str | None, metric: str,
                    amount: float) -> None:
        self.scoped[(level, scope, parent, metric)] += amount

    def _active(self, org: OrgKey, people: list[str], day: str) -> None:
        """The people of a pair were active on ``day`` (ISO date or moment) at ``org``."""
        when = date.fromisoformat(day[:10])
        for person in people:
            mark_active(self.state, self._put, self._add_scoped, person, org, when)

    def _who(self, envelope: dict[str, Any], role: str, p: dict[str, Any]) -> None:
        self._put("who", envelope["aggregate_id"], [role, p["category"], int(p["birth_year"])])

    # -- entry points --

    def apply(self, envelope: dict[str, Any]) -> None:
        handler = self._handlers.get(envelope["type"])
        if handler is not None:
            self._dispatch(handler, envelope)

    def apply_bytes(self, event_type: str, data: bytes) -> None:
        """One logged event, decoded only when the dashboards use its type."""
        handler = self._handlers.get(event_type)
        if handler is not None:
            self._dispatch(handler, orjson.loads(data))

    def apply_rows(self, rows: Iterable[tuple[int, str, bytes]]) -> None:
        """Logged (position, type, data) rows in order: ``apply_bytes`` of each, in one loop
        (the rebuild's hot path: millions of events)."""
        handlers, versions, loads = self._handlers, self._versions, orjson.loads
        for _position, event_type, data in rows:
            handler = handlers.get(event_type)
            if handler is None:
                continue
            envelope = loads(data)
            if envelope.get("schema_version", 1) != versions.get(event_type, 1):
                self._dispatch(handler, envelope)  # an old version: upcast there
                continue
            org = envelope["org"]
            handler((org["region"], org.get("municipality"), org.get("organisation")), envelope,
                    envelope["payload"])

    def _dispatch(self, handler: Callable[[OrgKey, dict[str, Any], dict[str, Any]], None],
                  envelope: dict[str, Any]) -> None:
        org = envelope["org"]
        payload = envelope["payload"]
        kind = envelope["type"]
        if envelope.get("schema_version", 1) != self._versions.get(kind, 1):
            # An old schema version: lift it through the catalogue's upcasters (the payload's
            # model is only built here; the envelope around it was checked when it was logged).
            payload = current_payload(kind, envelope.get("schema_version", 1), payload)
        handler((org["region"], org.get("municipality"), org.get("organisation")), envelope, payload)

    def take_deltas(self) -> dict[tuple[str, str, str | None, str], float]:
        """(level, scope, parent, metric) → change, rolled up to every level, and reset."""
        rolled: dict[tuple[str, str, str | None, str], float] = defaultdict(float)
        for org, metrics in self.deltas.items():
            scopes = key_scopes(org)
            for metric, amount in metrics.items():
                if amount:
                    for level, scope, parent in scopes:
                        rolled[(level, scope, parent, metric)] += amount
        for key, amount in self.scoped.items():
            rolled[key] += amount
        self.deltas = new_deltas()
        self.scoped = defaultdict(float)
        return {k: v for k, v in rolled.items() if v != 0}

    def take_dirty(self) -> list[tuple[str, str, bytes]]:
        """The state rows changed since the last call, in key order (one lock order for all)."""
        dumps = orjson.dumps
        rows: list[tuple[str, str, bytes]] = []
        for kind in sorted(self.dirty):
            if kind in FLAG_KINDS:  # the commonest rows (participants seen in a form)
                rows += [(kind, key, b"1") for key in sorted(self.dirty[kind])]
            else:
                values = self.state[kind]
                rows += [(kind, key, dumps(values[key])) for key in sorted(self.dirty[kind])]
        self.dirty = {k: set() for k in STATE_KINDS}
        return rows

    def load_state(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        state: dict[str, dict[str, Any]] = {k: {} for k in STATE_KINDS}
        loads = orjson.loads
        for kind, key, value in rows:
            state.setdefault(kind, {})[key] = 1 if kind in FLAG_KINDS else loads(value)
        self.state = state

    # -- handlers: one per event type --

    def _organisation(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        kind = p["kind"]
        self._add(org, "organisations")
        self._add(org, f"organisations.{kind}")
        demo = envelope["actor"]["user"] == DEMO_LOADER
        self._put("org", _key_text(org), {
            "kind": kind, "name": p["name"], "code": p["code"], "mentors": 0, "demo": demo,
            # The reporting calendar asks no report for a period that ended before this. The
            # demonstration's schools stand for ones that existed long before it was loaded
            # (its calendar starts a half-year back to show a late report): no date for them.
            "registered": None if demo else envelope["occurred_at"]})

    def _contingent(self, org: OrgKey, _envelope: dict[str, Any], p: dict[str, Any]) -> None:
        key = _key_text(org)
        old = self.state["cont"].get(key)
        if old is not None and old["school_year"] > p["school_year"]:
            return  # a late declaration for a past year does not replace the current one
        fields = {name: int(p.get(name, 0)) for name in kpi.CONTINGENT_FIELDS}
        for name, value in fields.items():
            change = value - (old["fields"].get(name, 0) if old else 0)
            if change:
                self._add(org, kpi.CONTINGENT_PREFIX + name, change)
        self._put("cont", key, {"school_year": p["school_year"], "fields": fields})

    def _mentor(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        c = self.deltas[org]
        category = p["category"]
        c["mentors"] += 1
        c["mentors.category." + category] += 1
        year = school_year_of(envelope["occurred_at"])
        for name in _person_figures("mentor", category, int(p["birth_year"]), year):
            c[name] += 1
        self._who(envelope, "mentor", p)
        key = _key_text(org)
        info = self.state["org"].get(key)
        if info is not None:
            if info["mentors"] == 0 and info["kind"] in kpi.EMPLOYER_KINDS:
                self._add(org, kpi.ENTERPRISES_PROVIDING_MENTORS)
            self._put("org", key, {**info, "mentors": info["mentors"] + 1})

    def _mentee(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        c = self.deltas[org]
        category = p["category"]
        c["mentees"] += 1
        c["mentees.category." + category] += 1
        if p.get("minor"):
            c["mentees.minor"] += 1
        year = school_year_of(envelope["occurred_at"])
        for name in _person_figures("mentee", category, int(p["birth_year"]), year):
            c[name] += 1
        self._who(envelope, "mentee", p)

    def _consent_recorded(self, org: OrgKey, _e: dict[str, Any], _p: dict[str, Any]) -> None:
        self._add(org, "consents.given")

    def _consent_withdrawn(self, org: OrgKey, envelope: dict[str, Any], _p: dict[str, Any]) -> None:
        self._add(org, "consents.withdrawn")
        withdraw(self.state, self._put, self._add_scoped, envelope["aggregate_id"],
                          date.fromisoformat(envelope["occurred_at"][:10]))

    def _programme(self, org: OrgKey, _e: dict[str, Any], p: dict[str, Any]) -> None:
        self._add(org, "programmes")
        self._add(org, f"programmes.form.{p['form']}")

    def _pair_formed(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        form, mentees = p["form"], p["mentee_ids"]
        c = self.deltas[org]
        c["pairs.formed"] += 1
        c["pairs.active"] += 1
        c["pairs.form." + form] += 1
        if len(mentees) > 1:
            c["pairs.groups"] += 1
        c["pairs.mentees"] += len(mentees)
        # members, form, month of the last meeting, mentor, mentees, and the pair's organisation
        # (a partner organisation's mentor answers the pair's questionnaires there)
        self._put("pair", envelope["aggregate_id"],
                  [1 + len(mentees), form, None, p["mentor_id"], mentees, _key_text(org)])
        self._active(org, [p["mentor_id"], *mentees], envelope["occurred_at"])
        seen_before = self.state["part"]
        for side, person in (("mentors", p["mentor_id"]), *(("mentees", m) for m in mentees)):
            seen = f"{person}|{form}"
            if seen not in seen_before:
                self._put("part", seen, 1)
                c[f"{side}.form.{form}"] += 1

    def _pair_closed(self, org: OrgKey, envelope: dict[str, Any], _p: dict[str, Any]) -> None:
        status = "completed" if envelope["type"] == "PairCompleted" else "dissolved"
        self._add(org, "pairs.active", -1)
        self._add(org, f"pairs.{status}")
        pair = self.state["pair"].get(envelope["aggregate_id"])
        if pair is not None and len(pair) > 4:
            self._active(org, [pair[3], *pair[4]], envelope["occurred_at"])

    def _meeting(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        month = p["date"][:7]
        c = self.deltas[org]
        c["meetings.held"] += 1
        c["meetings.kind." + p["kind"]] += 1
        c["meetings.month." + month] += 1
        pair_id = envelope["aggregate_id"]
        pair = self.state["pair"].get(pair_id)
        if pair is not None and len(pair) > 4:
            self._active(org, [pair[3], *pair[4]], p["date"])
        # Every member answers the feedback of every meeting.
        c["feedback.expected"] += pair[0] if pair else 2
        if pair is not None and pair[2] != month:
            # A pair's meetings come in date order, so a new month is a month not counted yet.
            c["pairs_met.month." + month] += 1
            self._put("pair", pair_id, [pair[0], pair[1], month, *pair[3:]])

    def _feedback(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        side = p["side"]
        c = self.deltas[org]
        c["feedback.submitted"] += 1
        c["feedback." + side + ".n"] += 1
        c["feedback." + side + ".sum"] += p["satisfaction"]
        # People, not answers, decide whether a mean may be shown: one mentor answering after
        # every meeting is still one person. Version 1 events name no respondent: their pair's
        # side stands in for one person (fewer people, so more is hidden, never less).
        respondent = p.get("respondent_id") or envelope["aggregate_id"]
        self._once("fbp", f"{respondent}|{side}", org, f"feedback.{side}.people")

    def _survey(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        self._add(org, "surveys")
        self._add(org, f"surveys.{p['stage']}")
        respondent = p.get("respondent_id")
        if p["stage"] == "quality":
            self._quality(org, envelope, p, respondent)
        elif respondent is not None:
            self._growth(org, p, respondent)

    def _once(self, kind: str, key: str, org: OrgKey, metric: str) -> None:
        """Count ``metric`` the first time ``key`` is seen (a distinct person, say)."""
        if key not in self.state[kind]:
            self._put(kind, key, 1)
            self._add(org, metric)

    def _quality_contribution(self, org: OrgKey, role: str, score: float, sign: int) -> None:
        self._add(org, f"survey.{role}.n", sign)
        self._add(org, f"survey.{role}.sum", sign * score)
        if role in surveys.PARTICIPANT_ROLES:
            self._add(org, kpi.SURVEY_RESPONDENTS, sign)
            if score >= self.settings.threshold:
                self._add(org, kpi.SURVEY_SATISFIED, sign)

    def _quality(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any],
                 respondent: str | None) -> None:
        questionnaire = self.settings.questionnaires.get(p["survey"])
        scores = p["scores"]
        score = questionnaire.satisfaction_of(scores) if questionnaire is not None else \
            (sum(scores.values()) / len(scores) if scores else None)
        if score is None:
            return
        role = p["respondent_role"]
        if respondent is None:  # anonymous answers (paper forms a curator enters) each count
            self._quality_contribution(org, role, score, 1)
            self._add(org, f"survey.{role}.people")
            if role in surveys.PARTICIPANT_ROLES:
                self._add(org, kpi.SURVEY_PEOPLE)
            return
        self._once("srp", f"{respondent}|{role}", org, f"survey.{role}.people")
        if role in surveys.PARTICIPANT_ROLES:
            self._once("srp", f"{respondent}|participant", org, kpi.SURVEY_PEOPLE)
        # One answer per respondent, pair and questionnaire: the latest replaces the earlier.
        key = f"{respondent}|{p.get('pair_id')}|{p['survey']}"
        old = self.state["qual"].get(key)
        if old is not None:
            self._quality_contribution(tuple(old[0]), old[1], old[2], -1)  # type: ignore[arg-type]
        self._quality_contribution(org, role, score, 1)
        self._put("qual", key, [list(org), role, score])

    def _growth_contribution(self, org: OrgKey, survey: str, entry: Mapping[str, int] | None,
                             exit_: Mapping[str, int] | None, sign: int) -> None:
        questionnaire = self.settings.questionnaires.get(survey)
        if entry is None or exit_ is None or questionnaire is None:
            return
        for name, value in surveys.participant_growth(questionnaire, entry, exit_).items():
            self._add(org, f"growth.{name}.n", sign)
            self._add(org, f"growth.{name}.sum", sign * round(value * GROWTH_SCALE))

    def _growth(self, org: OrgKey, p: dict[str, Any], respondent: str) -> None:
        key = f"{respondent}|{p['survey']}"
        old = self.state["grow"].get(key) or [list(org), None, None]
        old_org: OrgKey = tuple(old[0])  # type: ignore[assignment]
        self._growth_contribution(old_org, p["survey"], old[1], old[2], -1)
        entry, exit_ = (p["scores"], old[2]) if p["stage"] == "growth_entry" else (old[1], p["scores"])
        self._growth_contribution(org, p["survey"], entry, exit_, 1)
        self._put("grow", key, [list(org), entry, exit_])

    def _training_confirmed(self, org: OrgKey, _e: dict[str, Any], p: dict[str, Any]) -> None:
        """A mentor counts as trained once, whatever number of materials they complete."""
        self._once("trn", p["mentor_id"], org, kpi.MENTORS_TRAINED)

    def _report_submitted(self, _org: OrgKey, _envelope: dict[str, Any], p: dict[str, Any]) -> None:
        self._put("rep", p["report_id"], 1)
        self.submitted_reports.append(p["report_id"])




def rolled_counts(fold: DashboardFold) -> tuple[Counts, dict[str, tuple[str, str | None]]]:
    """Every scope's counts from a fold that started empty (the as-of replay), with each
    scope's (level, parent)."""
    counts: Counts = defaultdict(dict)
    where: dict[str, tuple[str, str | None]] = {}
    for (level, scope, parent, metric), value in fold.take_deltas().items():
        counts[scope][metric] = counts[scope].get(metric, 0) + value
        where[scope] = (level, parent)
    return dict(counts), where


