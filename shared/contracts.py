"""The envelope every event travels in, and where on the bus it travels.

Subjects: ``nastavnik.<source>.<region>.<municipality|_>.<EventType>`` so NATS permissions and
consumers can be scoped to one municipality. One JetStream stream per source service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.auth import NO_MUNICIPALITY, Actor, OrgPath

SUBJECT_ROOT = "nastavnik"
SOURCES = ("registry", "pairing", "monitoring", "documents")
MESSAGE_ID_HEADER = "Nats-Msg-Id"
POSITION_HEADER = "Nastavnik-Position"
EXPECTED_LAST_SEQUENCE_HEADER = "Nats-Expected-Last-Sequence"


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


def stream_name(source: str) -> str:
    return f"NASTAVNIK_{source.upper()}"


def stream_subjects(source: str) -> list[str]:
    return [f"{SUBJECT_ROOT}.{source}.>"]


def municipality_filter(source: str, region: str, municipality: str) -> str:
    """The subject filter a municipality-scoped consumer or credential uses."""
    return f"{SUBJECT_ROOT}.{source}.{region}.{municipality}.>"


# --- request/reply: who answers what, on which subject ----------------------------------------

@dataclass(frozen=True)
class RpcRoute:
    """A query one service answers for another (``shared.rpc.serve`` / ``shared.rpc.request``)."""

    service: str
    subject: str
    queue: str


#: Names for a document, from the registry (only what the asking user may read).
NAMES = RpcRoute("registry", f"{SUBJECT_ROOT}.rpc.registry.names", "registry-names")
#: The pairs a pairs order approves, as the pairing service holds them.
PAIRS = RpcRoute("pairing", f"{SUBJECT_ROOT}.rpc.pairing.pairs", "pairing-pairs")
#: A unit's dashboard, for a report that prints its figures.
DASHBOARD = RpcRoute("monitoring", f"{SUBJECT_ROOT}.rpc.monitoring.dashboard", "monitoring-dashboard")
