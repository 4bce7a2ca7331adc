"""Dashboards of every organisation, municipality and the region, fed from the audit log.

One fold (``DashboardFold``) turns events into counts. It runs on plain dicts decoded once with
orjson (no pydantic on the hot path) and is used three ways by the same code:

* live: ``DashboardProjector.catch_up`` tails the audit log after its committed position;
* rebuild: the same projector from position 0, in large batches (``services.monitoring.rebuild``);
* as of a date: ``replay_as_of`` folds the log up to a moment into memory, and the dashboard is
  rendered by the same ``render_dashboard`` from those counts — so it equals the live figure.

Counts are kept per scope at each level (region ``r``, municipality ``r/m``, organisation
``r/m/o``): during a batch they accumulate per organisation only, and are rolled up once when
written, so reading any dashboard is one indexed lookup whatever the size of the log.

Whatever a count depends on besides the event itself (a pair's size, a respondent's previous
answer, an organisation's kind) lives in ``monitoring_dashboard_state``. Every such dependency
is inside one source stream, and the audit log keeps each stream's order, so the fold gives the
same result whichever way streams interleave.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Full, Queue
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

import orjson
import sqlalchemy as sa

from services.monitoring import kpi, surveys
from services.monitoring.audit.store import AuditStore
from shared.auth import OrgPath, org_key_text
from shared.events import CATALOGUE, current_payload
from shared.logging import get_logger

log = get_logger(__name__)

PROJECTOR = "dashboards"
#: Growth is a difference of means over up to 10 questions; ×2520 (lcm of 1..10) keeps it exact.
GROWTH_SCALE = 2520
DEMO_LOADER = "demo-loader"
#: Kinds of organisation that report to their municipality on the calendar.
REPORTING_KINDS = frozenset({"school", "college", "additional"})
#: What the table of units under a dashboard shows for each of them.
#: The figures of each unit listed under a dashboard; "organisations" lists every unit, even
#: one with nobody in its bases yet.
HEADLINE = ("organisations", "mentors", "mentees", "pairs.formed", "pairs.active", "pairs.completed",
            "meetings.held", "feedback.submitted", "feedback.expected")

metadata = sa.MetaData()
counts_table = sa.Table(
    "monitoring_dashboard", metadata,
    sa.Column("scope", sa.String(400), primary_key=True),
    sa.Column("metric", sa.String(200), primary_key=True),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("parent", sa.String(400), nullable=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Index("ix_monitoring_dashboard_parent", "parent", "metric"),
    # Rows live in their primary key's B-tree: half the work per upsert.
    sqlite_with_rowid=False,
)
state_table = sa.Table(
    "monitoring_dashboard_state", metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
progress_table = sa.Table(
    "monitoring_dashboard_progress", metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("rebuilding", sa.Boolean, nullable=False, default=False),
)

T = TypeVar("T")
OrgKey = tuple[str, str | None, str | None]
Counts = dict[str, dict[str, float]]
#: organisation key → metric → change: one dict per organisation, so each event adds to plain
#: string keys instead of building and hashing an (organisation, metric) tuple per count.
Deltas = defaultdict[OrgKey, defaultdict[str, float]]


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    # The progress row exists before the first fold commits: replicas take turns by locking it
    # (SELECT ... FOR UPDATE), and a row not there yet locks nothing, so two replicas' first
    # commits on PostgreSQL both added their counts (an event counted twice).
    with contextlib.suppress(sa.exc.IntegrityError), engine.begin() as conn:
        if conn.execute(sa.select(progress_table.c.name)
                        .where(progress_table.c.name == PROJECTOR)).first() is None:
            conn.execute(progress_table.insert().values(name=PROJECTOR, position=0, rebuilding=False))


# --- scopes ---------------------------------------------------------------------------------

def scope_key(org: OrgPath) -> str:
    return str(org)


def key_scopes(key: OrgKey) -> list[tuple[str, str, str | None]]:
    """(level, scope, parent) of every scope an organisation key counts in."""
    region, municipality, organisation = key
    scopes: list[tuple[str, str, str | None]] = [("region", region, None)]
    if municipality is not None:
        scopes.append(("municipality", f"{region}/{municipality}", region))
    if organisation is not None:
        parent = f"{region}/{municipality}" if municipality is not None else region
        scopes.append(("organisation", org_key_text(region, municipality, organisation), parent))
    return scopes


def level_of(org: OrgPath) -> str:
    if org.organisation is not None:
        return "organisation"
    return "municipality" if org.municipality is not None else "region"


def _key_text(key: OrgKey) -> str:
    return org_key_text(*key)


# --- the fold -------------------------------------------------------------------------------

def school_year_of(occurred_at: str) -> str:
    """The school year (1 September to 31 August) an ISO moment falls in: ``2025/2026``."""
    year, month = int(occurred_at[:4]), int(occurred_at[5:7])
    start = year if month >= 9 else year - 1
    return f"{start}/{start + 1}"


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
        self._handlers: dict[str, Callable[[OrgKey, dict[str, Any], dict[str, Any]], None]] = {
            "OrganisationRegistered": self._organisation,
            "ContingentDeclared": self._contingent,
            "MentorRegistered": self._mentor,
            "MenteeRegistered": self._mentee,
            "ConsentRecorded": self._consent_recorded,
            "ConsentWithdrawn": self._consent_withdrawn,
            "ProgrammeLaunched": self._programme,
            "PairFormed": self._pair_formed,
            "PairCompleted": self._pair_closed,
            "PairDissolved": self._pair_closed,
            "MeetingHeld": self._meeting,
            "FeedbackSubmitted": self._feedback,
            "SurveyRecorded": self._survey,
            "ReportSubmitted": self._report_submitted,
        }
        self.handled: frozenset[str] = frozenset(self._handlers)
        self._versions = {kind: spec.version for kind, spec in CATALOGUE.items()}

    # -- state helpers --

    def _put(self, kind: str, key: str, value: Any) -> None:
        self.state[kind][key] = value
        self.dirty[kind].add(key)

    def _add(self, org: OrgKey, metric: str, amount: float = 1) -> None:
        self.deltas[org][metric] += amount

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
        self.deltas = new_deltas()
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
        self._put("org", _key_text(org), {
            "kind": kind, "name": p["name"], "code": p["code"], "mentors": 0,
            "demo": envelope["actor"]["user"] == DEMO_LOADER})

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

    def _consent_recorded(self, org: OrgKey, _e: dict[str, Any], _p: dict[str, Any]) -> None:
        self._add(org, "consents.given")

    def _consent_withdrawn(self, org: OrgKey, _e: dict[str, Any], _p: dict[str, Any]) -> None:
        self._add(org, "consents.withdrawn")

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
        # members, form, month of the last meeting, mentor, mentees
        self._put("pair", envelope["aggregate_id"], [1 + len(mentees), form, None, p["mentor_id"], mentees])
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

    def _meeting(self, org: OrgKey, envelope: dict[str, Any], p: dict[str, Any]) -> None:
        month = p["date"][:7]
        c = self.deltas[org]
        c["meetings.held"] += 1
        c["meetings.kind." + p["kind"]] += 1
        c["meetings.month." + month] += 1
        pair_id = envelope["aggregate_id"]
        pair = self.state["pair"].get(pair_id)
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

    def _report_submitted(self, _org: OrgKey, _envelope: dict[str, Any], p: dict[str, Any]) -> None:
        self._put("rep", p["report_id"], 1)
        self.submitted_reports.append(p["report_id"])


STATE_KINDS = ("org", "cont", "pair", "part", "qual", "grow", "rep", "fbp", "srp")
#: State kinds whose value is always 1: the key is the fact (fbp, srp: people who answered).
FLAG_KINDS = frozenset({"part", "rep", "fbp", "srp"})


def rolled_counts(fold: DashboardFold) -> tuple[Counts, dict[str, tuple[str, str | None]]]:
    """Every scope's counts from a fold that started empty (the as-of replay), with each
    scope's (level, parent)."""
    counts: Counts = defaultdict(dict)
    where: dict[str, tuple[str, str | None]] = {}
    for (level, scope, parent, metric), value in fold.take_deltas().items():
        counts[scope][metric] = counts[scope].get(metric, 0) + value
        where[scope] = (level, parent)
    return dict(counts), where


# --- reading the audit log ------------------------------------------------------------------

_END = object()


def read_ahead(make: Callable[[], Iterator[T]], depth: int = 2) -> Iterator[T]:
    """The items of ``make()``, produced in a thread of its own up to ``depth`` ahead.

    ``make`` runs entirely in that thread (it opens its own connection there). Closing the
    returned generator stops the thread after the item it is on.
    """
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False  # the reading side has gone

    def run() -> None:
        try:
            with contextlib.closing(make()) as items:
                for item in items:
                    if not offer(item):
                        return
            offer(_END)
        except BaseException as exc:  # noqa: BLE001 - handed over to the reading side
            offer(exc)

    thread = threading.Thread(target=run, name="dashboards-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _placeholder(conn: sa.Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def log_pages(store: AuditStore, conn: sa.Connection, after: int, page: int,
              until: datetime | None = None) -> Iterator[list[tuple[int, str, bytes]]]:
    """Pages of (position, event type, data) in log order after ``after``.

    Straight through the driver's cursor: SQLAlchemy's per-row processing would cost more than
    the fold itself on millions of rows.
    """
    t = store.entries
    ph = _placeholder(conn)
    name = t.fullname
    bound: Any = None
    where = f"position > {ph}"
    if until is not None:
        bound = until.astimezone(UTC)
        if conn.dialect.name == "sqlite":
            bound = bound.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        # coalesce() keeps the planner on the position index (see audit.replay.log_envelopes).
        where += f" AND coalesce(occurred_at, occurred_at) <= {ph}"
    sql = (f"SELECT position, event_type, data FROM {name} WHERE {where} "
           f"ORDER BY position LIMIT {int(page)}")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if bound is not None:
            # The last position anything up to the moment holds, found on the occurred_at index:
            # as of an early date the scan below then ends there instead of at the log's end.
            # "+ 0" keeps the planners from answering max() by walking the positions backwards
            # (9.7 million rows as of the first month of a 10-million log, 86 s instead of 0.15).
            cursor.execute(f"SELECT max(position + 0) FROM {name} WHERE occurred_at <= {ph}",
                           (bound,))
            found = cursor.fetchone()
            if found is None or found[0] is None:
                return
            sql = sql.replace(" ORDER BY", f" AND position <= {int(found[0])} ORDER BY")
        last = after
        while True:
            cursor.execute(sql, (last,) if bound is None else (last, bound))
            rows = cursor.fetchall()
            if rows:
                yield rows
            if len(rows) < page:
                return
            last = int(rows[-1][0])
    finally:
        cursor.close()


@dataclass(frozen=True)
class Replayed:
    """Every scope's counts as they stood at a moment, folded from the audit log alone into
    memory (a scratch copy: no live table is read or written)."""

    moment: datetime
    counts: Counts
    where: dict[str, tuple[str, str | None]]
    names: dict[str, str]
    events: int
    settings: FoldSettings

    def dashboard(self, org: OrgPath) -> dict[str, Any]:
        """The dashboard of ``org`` as it showed then: the same rendering as the live one."""
        scope = scope_key(org)
        children = children_of(self.counts, self.where, scope)
        body = render_dashboard(scope, level_of(org), self.counts.get(scope, {}), children,
                                self.settings, {c: self.names[c] for c in children if c in self.names})
        return {**body, "as_of": self.moment.isoformat(), "events": self.events}

    def regions(self) -> list[str]:
        return sorted(scope for scope, (level, _) in self.where.items() if level == "region")


def replay_as_of(store: AuditStore, moment: datetime, settings: FoldSettings | None = None,
                 page: int = 20000) -> Replayed:
    """Every scope's counts as they stood at ``moment``, from the audit log alone."""
    fold = DashboardFold(settings)
    events = 0

    def pages() -> Iterator[list[tuple[int, str, bytes]]]:
        with store.engine.connect() as conn:
            yield from log_pages(store, conn, 0, page, until=moment)

    with contextlib.closing(read_ahead(pages)) as source:  # reading overlaps folding
        for rows in source:
            fold.apply_rows(rows)
            events += len(rows)
    counts, where = rolled_counts(fold)
    names = {key: info["name"] for key, info in fold.state["org"].items()}
    return Replayed(moment, counts, where, names, events, fold.settings)


# --- writing: the projector -----------------------------------------------------------------

def _executemany(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk upsert through the driver: the statement is fixed, only the values vary."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql.replace("?", _placeholder(conn)), rows)
    finally:
        cursor.close()


def write_counts(conn: sa.Connection, deltas: Mapping[tuple[str, str, str | None, str], float]) -> None:
    if not deltas:
        return
    t = counts_table.fullname
    _executemany(conn, f"INSERT INTO {t} (level, scope, parent, metric, value) VALUES (?, ?, ?, ?, ?) "
                       f"ON CONFLICT (scope, metric) DO UPDATE SET value = {t}.value + excluded.value",
                 [(level, scope, parent, metric, float(value))
                  for (level, scope, parent, metric), value in sorted(deltas.items())])


def write_state(conn: sa.Connection, rows: list[tuple[str, str, bytes]]) -> None:
    """Upsert state rows, given in key order (``take_dirty``'s) so writers lock alike."""
    if not rows:
        return
    t = state_table.fullname
    _executemany(conn, f"INSERT INTO {t} (kind, key, value) VALUES (?, ?, ?) "
                       f"ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value", rows)


# Built once: the live tail reads the position 50 times a second.
_PROGRESS = sa.select(progress_table.c.position, progress_table.c.rebuilding).where(
    progress_table.c.name == PROJECTOR)
_PROGRESS_LOCKED = _PROGRESS.with_for_update()
_SET_PROGRESS = progress_table.update().where(progress_table.c.name == PROJECTOR).values(
    position=sa.bindparam("position"), rebuilding=sa.bindparam("rebuilding"))


def read_progress(conn: sa.Connection, lock: bool = False) -> tuple[int, bool]:
    row = conn.execute(_PROGRESS_LOCKED if lock and conn.dialect.name == "postgresql"
                       else _PROGRESS).first()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def write_progress(conn: sa.Connection, position: int, rebuilding: bool) -> None:
    updated = conn.execute(_SET_PROGRESS, {"position": position, "rebuilding": rebuilding})
    if updated.rowcount == 0:
        conn.execute(progress_table.insert().values(name=PROJECTOR, position=position,
                                                    rebuilding=rebuilding))


class DashboardProjector:
    """Tails the audit log into the dashboard tables; the position commits with the counts.

    The fold's state is kept in memory between batches; a transaction that finds the committed
    position elsewhere than expected (another replica, a rebuild) reloads it first.
    """

    def __init__(self, store: AuditStore, write_engine: sa.Engine,
                 settings: FoldSettings | None = None,
                 on_reports: Callable[[list[str]], None] = lambda _ids: None) -> None:
        self.store = store
        self.engine = write_engine
        self.fold = DashboardFold(settings)
        self.position: int | None = None  # what the in-memory state corresponds to
        self.on_reports = on_reports
        self.applied_total = 0
        self._lock = threading.Lock()
        create_tables(write_engine)

    def reload(self, conn: sa.Connection) -> int:
        # Should another writer commit between these two reads, the first commit from here
        # finds the position moved and reloads again (``_commit``): nothing is counted twice.
        position, _ = read_progress(conn)
        # Through the driver's cursor: millions of rows at a large region's restart.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT kind, key, value FROM {state_table.fullname}")
            self.fold.load_state(cursor)
        finally:
            cursor.close()
        self.fold.deltas = new_deltas()
        self.position = position
        return position

    def submitted_reports(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(
                sa.select(state_table.c.key).where(state_table.c.kind == "rep"))]

    def organisations(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r[0]: orjson.loads(r[1]) for r in conn.execute(
                sa.select(state_table.c.key, state_table.c.value).where(state_table.c.kind == "org"))}

    def catch_up(self, page: int = 5000, max_events: int | None = None,
                 commit_every: int = 5000, rebuilding: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
        """Fold whatever the log holds after the committed position. Returns events folded."""
        with self._lock:
            return self._catch_up(page, max_events, commit_every, rebuilding, progress)

    def _catch_up(self, page: int, max_events: int | None, commit_every: int, rebuilding: bool,
                  progress: Callable[[int], None] | None) -> int:
        # Read through the reading engine: on SQLite the writing one begins every transaction
        # with the write lock, which this poll (50 times a second) would take from the feeder.
        with self.store.engine.connect() as conn:
            committed, in_rebuild = read_progress(conn)
            if in_rebuild and not rebuilding:
                return 0  # a rebuild owns the tables until it finishes
            if self.position != committed:
                self.reload(conn)
        start = self.position or 0
        done = 0
        pending = 0
        last = start

        def pages() -> Iterator[list[tuple[int, str, bytes]]]:
            with self.store.engine.connect() as read:
                yield from log_pages(self.store, read, start, page)

        apply = self.fold.apply_rows
        # A rebuild reads the next page in a thread of its own while this one folds: the
        # database's part of reading runs without the GIL, so it takes another core.
        with contextlib.closing(read_ahead(pages) if rebuilding else pages()) as source:
            for rows in source:
                apply(rows)
                last = rows[-1][0]
                done += len(rows)
                pending += len(rows)
                if pending >= commit_every:
                    self._commit(start, last, rebuilding)
                    start, pending = last, 0
                    if progress is not None:
                        progress(done)
                if max_events is not None and done >= max_events:
                    break
        if pending:
            self._commit(start, last, rebuilding)
            if progress is not None:
                progress(done)
        return done

    def _commit(self, expected: int, position: int, rebuilding: bool) -> None:
        deltas = self.fold.take_deltas()
        state = self.fold.take_dirty()
        reports, self.fold.submitted_reports = self.fold.submitted_reports, []
        try:
            with self.engine.begin() as conn:
                committed, _ = read_progress(conn, lock=True)
                if committed != expected:
                    raise _Moved(committed)
                write_counts(conn, deltas)
                write_state(conn, state)
                write_progress(conn, position, rebuilding)
        except BaseException:
            self.position = None  # memory is ahead of the database: reload on the next round
            raise
        self.position = position
        self.applied_total += position - expected
        if reports:
            self.on_reports(reports)

    def reset(self) -> None:
        """Empty the read model and mark a rebuild in progress from position 0."""
        with self._lock, self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # Dropped rather than emptied: quicker for millions of rows, and a read model
                # made by an older version takes the current layout (WITHOUT ROWID).
                counts_table.drop(conn)
                state_table.drop(conn)
                metadata.create_all(conn, tables=[counts_table, state_table])
            else:
                conn.execute(counts_table.delete())
                conn.execute(state_table.delete())
            write_progress(conn, 0, True)
            self.fold = DashboardFold(self.fold.settings)
            self.position = 0

    def finish_rebuild(self) -> None:
        with self._lock, self.engine.begin() as conn:
            position, _ = read_progress(conn, lock=True)
            write_progress(conn, position, False)


class _Moved(RuntimeError):
    """Someone else advanced the position; this batch is dropped and redone from the database."""


# --- reading: dashboards --------------------------------------------------------------------

def read_scope(conn: sa.Connection, scope: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A scope's counts and the headline counts of the units directly under it.

    Two indexed range reads on the driver's cursor: a region's dashboard is some 500 rows, and
    SQLAlchemy's per-row work was half of its time."""
    t, ph = counts_table.fullname, _placeholder(conn)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"SELECT metric, value FROM {t} WHERE scope = {ph}", (scope,))
        own = {m: float(v) for m, v in cursor.fetchall()}
        cursor.execute(f"SELECT scope, metric, value FROM {t} WHERE parent = {ph} AND metric IN "
                       f"({', '.join([ph] * len(HEADLINE))})", (scope, *HEADLINE))
        children: dict[str, dict[str, float]] = defaultdict(dict)
        for child, metric, value in cursor.fetchall():
            children[child][metric] = float(value)
    finally:
        cursor.close()
    return own, dict(children)


def children_of(counts: Counts, where: Mapping[str, tuple[str, str | None]],
                scope: str) -> dict[str, dict[str, float]]:
    return {child: {m: v for m, v in metrics.items() if m in HEADLINE}
            for child, metrics in counts.items() if where.get(child, ("", None))[1] == scope}


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


def _group(counts: Mapping[str, float], prefix: str) -> dict[str, int | float]:
    return {m[len(prefix):]: _num(v) for m, v in sorted(counts.items())
            if m.startswith(prefix) and v}


def _mean(total: float, n: float, min_group: int, scale: int = 1,
          people: float | None = None) -> dict[str, Any]:
    """A mean of ``n`` answers given by ``people`` people (each answered once when None),
    hidden when fewer than ``min_group`` people gave it."""
    count = int(n)
    if count <= 0:
        return {"count": 0, "mean": None, "suppressed": False}
    if (count if people is None else int(people)) < min_group:
        return {"count": f"<{min_group}", "mean": None, "suppressed": True}
    return {"count": count, "mean": round(total / scale / count, 2), "suppressed": False}


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def render_dashboard(scope: str, level: str, counts: Mapping[str, float],
                     children: Mapping[str, Mapping[str, float]], settings: FoldSettings,
                     names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every figure of one unit, with the KPIs, from its counts (live or as of a date)."""
    c = defaultdict(float, counts)
    min_group = settings.min_group
    months = sorted(m.removeprefix("meetings.month.") for m in c if m.startswith("meetings.month."))
    kpi_figures = {m: int(v) for m, v in c.items()}
    return {
        "scope": scope,
        "level": level,
        "organisations": {"total": _num(c["organisations"]), "by_kind": _group(c, "organisations.")},
        "mentors": {"total": _num(c["mentors"]), "by_category": _group(c, "mentors.category."),
                    "by_form": _group(c, "mentors.form.")},
        "mentees": {"total": _num(c["mentees"]), "by_category": _group(c, "mentees.category."),
                    "by_form": _group(c, "mentees.form."), "minors": _num(c["mentees.minor"])},
        "consents_withdrawn": _num(c["consents.withdrawn"]),
        "consents": {"given": _num(c["consents.given"]), "withdrawn": _num(c["consents.withdrawn"])},
        "programmes": {"total": _num(c["programmes"]), "by_form": _group(c, "programmes.form.")},
        "pairs": {"formed": _num(c["pairs.formed"]), "groups": _num(c["pairs.groups"]),
                  "by_status": {"active": _num(c["pairs.active"]),
                                "completed": _num(c["pairs.completed"]),
                                "dissolved": _num(c["pairs.dissolved"])},
                  "by_form": _group(c, "pairs.form.")},
        "meetings": {
            "held": _num(c["meetings.held"]), "by_kind": _group(c, "meetings.kind."),
            "per_pair": _ratio(c["meetings.held"], c["pairs.formed"]),
            "by_month": [{"month": m, "meetings": _num(c[f"meetings.month.{m}"]),
                          "pairs": _num(c[f"pairs_met.month.{m}"]),
                          "per_pair": _ratio(c[f"meetings.month.{m}"], c[f"pairs_met.month.{m}"])}
                         for m in months]},
        "feedback": {"expected": _num(c["feedback.expected"]),
                     "submitted": _num(c["feedback.submitted"]),
                     "completion": _ratio(c["feedback.submitted"], c["feedback.expected"])},
        "satisfaction": {
            "feedback": {side: _mean(c[f"feedback.{side}.sum"], c[f"feedback.{side}.n"], min_group,
                                     people=c[f"feedback.{side}.people"])
                         for side in ("mentor", "mentee")},
            "survey": {role: _mean(c[f"survey.{role}.sum"], c[f"survey.{role}.n"], min_group,
                                   people=c[f"survey.{role}.people"])
                       for role in ("mentor", "mentee", "curator")}},
        "growth": {name: _mean(c[f"growth.{name}.sum"], c[f"growth.{name}.n"], min_group,
                               GROWTH_SCALE)
                   for name in (*surveys.DIMENSIONS, "overall")},
        "surveys": {"total": _num(c["surveys"]), "by_stage": _group(c, "surveys.")},
        "contingent": {name: _num(c[kpi.CONTINGENT_PREFIX + name])
                       for name in sorted(kpi.CONTINGENT_FIELDS)},
        "kpis": [s.to_json() for s in kpi.shares(settings.catalogue, kpi_figures)],
        "units": [{"scope": child, "name": (names or {}).get(child),
                   **{m: _num(v) for m, v in sorted(figures.items())}}
                  for child, figures in sorted(children.items())],
    }


def pair_members(conn: sa.Connection, pair_id: UUID) -> tuple[str, list[str]] | None:
    """(mentor id, mentee ids) of a pair the dashboards have seen formed, else None."""
    value = conn.execute(sa.select(state_table.c.value).where(
        state_table.c.kind == "pair", state_table.c.key == str(pair_id))).scalar()
    if value is None:
        return None
    pair = orjson.loads(value)
    return (pair[3], list(pair[4])) if len(pair) > 4 else None


def org_names(conn: sa.Connection) -> dict[str, str]:
    return {r[0]: orjson.loads(r[1])["name"] for r in conn.execute(
        sa.select(state_table.c.key, state_table.c.value).where(state_table.c.kind == "org"))}
