"""The envelope every event travels in, and where on the bus it travels.

Subjects: ``nastavnik.<source>.<region>.<municipality|_>.<EventType>`` so NATS permissions and
consumers can be scoped to one municipality. One JetStream stream per source service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.auth import NO_MUNICIPALITY, Actor, OrgPath

SUBJECT_ROOT = "nastavnik"
SOURCES = ("registry", "pairing", "monitoring", "documents")
MESSAGE_ID_HEADER = "Nats-Msg-Id"
POSITION_HEADER = "Nastavnik-Position"
EXPECTED_LAST_SEQUENCE_HEADER = "Nats-Expected-Last-Sequence"
#: Each service's part of the one API, by first path segment (``/audit/...`` is the audit API,
#: ``/auditor`` a portal page). The gateway (``deploy/kubernetes/gateway.conf``) routes by it,
#: and so does the API's address in ``nastavnik up`` when services run in processes of their own.
API_PREFIXES: dict[str, tuple[str, ...]] = {
    "registry": ("registry", "auth"),
    "pairing": ("pairing",),
    "documents": ("documents",),
    "monitoring": ("monitoring", "audit"),
}


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str
    schema_version: int
    occurred_at: datetime
    org: OrgPath
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    source: str
    source_position: int
    aggregate_id: UUID
    aggregate_version: int
    payload: dict[str, Any]

    @property
    def subject(self) -> str:
        return subject_for(self.source, self.org, self.type)

    def to_bytes(self) -> bytes:
        """Canonical JSON: the exact bytes the audit log hashes."""
        return json.dumps(
            self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        return cls.model_validate_json(data)


def subject_for(source: str, org: OrgPath, event_type: str) -> str:
    municipality = org.municipality or NO_MUNICIPALITY
    return f"{SUBJECT_ROOT}.{source}.{org.region}.{municipality}.{event_type}"


#: The key-value bucket of revoked access tokens (``shared.revocations``): only the registry
#: writes it, every service reads it.
REVOCATIONS_BUCKET = "nastavnik_revoked"


def stream_name(source: str) -> str:
    return f"NASTAVNIK_{source.upper()}"


def publisher_of(source: str) -> str:
    """The service whose events a source's stream holds: the hub's copy of a municipal leaf's
    stream (``registry_edge_m1`` → ``NASTAVNIK_REGISTRY_EDGE_M1``) holds its service's events."""
    return source.split("_edge_", 1)[0]


def stream_subjects(source: str) -> list[str]:
    return [f"{SUBJECT_ROOT}.{source}.>"]


def municipality_filter(source: str, region: str, municipality: str) -> str:
    """The subject filter a municipality-scoped consumer or credential uses."""
    return f"{SUBJECT_ROOT}.{source}.{region}.{municipality}.>"


# --- request/reply: who answers what, on which subject ----------------------------------------

@dataclass(frozen=True)
class RpcRoute:
    """A query one service answers for another (``shared.rpc.serve`` / ``shared.rpc.request``).

    ``callers``: the services whose signed actor claims the answering service accepts on this
    route (``shared.claims``); anyone else is refused. ``personal_data``: the reply may name
    people. Every reply is encrypted to the requesting service (``shared.sealed``) whatever this
    says; the flag documents why it must stay so and lets a test hold every such route to it.
    """

    service: str
    subject: str
    queue: str
    callers: tuple[str, ...] = ()
    personal_data: bool = False


#: Names for a document, from the registry (only what the asking user may read).
NAMES = RpcRoute("registry", f"{SUBJECT_ROOT}.rpc.registry.names", "registry-names",
                 callers=("documents",), personal_data=True)
#: The pairs a pairs order approves, as the pairing service holds them; with their goals (free
#: text that may name the members) for a development plan. The registry asks too: which
#: confirmed pairs a curator sees, whose mentor from another organisation the pair lets them name.
PAIRS = RpcRoute("pairing", f"{SUBJECT_ROOT}.rpc.pairing.pairs", "pairing-pairs",
                 callers=("documents", "registry"), personal_data=True)
#: A unit's dashboard, for a report that prints its figures.
DASHBOARD = RpcRoute("monitoring", f"{SUBJECT_ROOT}.rpc.monitoring.dashboard", "monitoring-dashboard",
                     callers=("documents",))
#: Whom of an audience (officials of a role at a path, a participant) to mail, at which address:
#: asked by the notifications' mailer at send time, so addresses never leave the registry's store.
CONTACTS = RpcRoute("registry", f"{SUBJECT_ROOT}.rpc.registry.contacts", "registry-contacts",
                    callers=("monitoring",), personal_data=True)
#: Every route, by subject: who answers it and who may ask.
RPC_ROUTES: dict[str, RpcRoute] = {r.subject: r for r in (NAMES, PAIRS, DASHBOARD, CONTACTS)}


# --- request/reply: what is asked and answered on each route (the wire format, typed) --------

class RpcRequest(BaseModel):
    """A query's own fields. ``shared.rpc.request`` adds the acting user as claims signed by the
    calling service (``actor``, ``actor_signature``: ``shared.claims``), never the user's token;
    the answering service decides what that user may see, exactly as its own HTTP routes would."""


class NamesRequest(RpcRequest):
    person_ids: list[UUID]
    #: Mentors of confirmed cross-organisation pairs the pairing service served this user for
    #: the document (``PairFound.mentor_organisation_name`` set): the pair grants their name.
    paired_mentor_ids: list[UUID] = []


class PersonNames(BaseModel):
    """A person as a document prints them (what the user may read of them, never stored).

    ``pseudonymous``: the user may not see this child's name (152-ФЗ, ст. 5), so ``full_name``
    is their label («Наставляемый №7F3A-91C2») and every other field is empty. ``label`` and
    ``protected`` (a child: officials above the school see the label) let a document issued by
    an official, with labels, be rendered again as issued for a reader who sees names."""

    full_name: str
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: date | None = None
    guardian_name: str | None = None
    role: str
    organisation_id: UUID
    pseudonymous: bool = False
    label: str | None = None
    protected: bool = False


class NamesReply(BaseModel):
    #: By person id; ``missing``: out of the user's reach, unknown, or consent withdrawn (alike).
    people: dict[str, PersonNames]
    missing: list[str]


class PairsRequest(RpcRequest):
    pair_ids: list[UUID]
    #: Also each pair's goals, opened for the asking user (a development plan prints them).
    with_goals: bool = False


class PairGoal(BaseModel):
    """A goal of a pair's development plan: its wording (opened by pairing), due date, status."""

    title: str
    due: date | None = None
    status: str


class PairFound(BaseModel):
    """A pair (group) as the pairing service formed it."""

    status: str
    organisation_id: UUID
    path: str
    form: str
    form_title: str
    mentor_id: UUID
    mentee_ids: list[UUID]
    formed_on: date | None = None
    #: Only when asked (``with_goals``), in the order they were set.
    goals: list[PairGoal] = []
    #: The mentor's organisation when it is not the pair's own (a confirmed cross-org pair).
    mentor_organisation_name: str | None = None


class PairsReply(BaseModel):
    #: By pair id; ``missing``: out of the user's reach or unknown (alike).
    pairs: dict[str, PairFound]
    missing: list[str]


class DashboardRequest(RpcRequest):
    #: An organisation path; ``None``: the user's own unit.
    org: str | None = None
    #: The school-year period of the KPIs («2026/27», «2026/27-1»); ``None``: the latest.
    period: str | None = None


class DashboardReply(BaseModel):
    #: The body of ``GET /monitoring/dashboard`` for that unit, as that user sees it.
    dashboard: dict[str, Any]
