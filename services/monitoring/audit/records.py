"""What the audit log stores: its tables, the entries going in and coming out, and the
errors and limits the store, the verification and the export share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from .chain import encode_entry
from .heads import SignedHead

EXPORT_FORMAT = "nastavnik-audit-export/v2"
#: Exports of v1 (no positions in the manifest) stay readable.
EXPORT_FORMATS = {"nastavnik-audit-export/v1": 1, EXPORT_FORMAT: 2}
EXPORT_DOMAIN = b"nastavnik-audit-export-manifest/v1"
MANIFEST_MISMATCH = "MANIFEST_MISMATCH"

# SQLite's historic bound-parameter limit is 999; 500 keeps IN lists portable.
_IN_CHUNK = 500

#: The signing loop's default interval (NASTAVNIK_AUDIT_HEAD_INTERVAL), in seconds.
DEFAULT_HEAD_INTERVAL = 10.0
#: How late the first head may be beyond one interval before its absence counts: the loop's
#: start, a slow first signature and the clocks of two machines (verify runs anywhere).
HEAD_GRACE_SECONDS = 60.0


class AuditIntegrityError(RuntimeError):
    """The stored log contradicts itself or its signed heads; refuse to certify it."""


def build_metadata(schema: str | None = None) -> sa.MetaData:
    metadata = sa.MetaData(schema=schema)
    sa.Table(
        "audit_entries",
        metadata,
        # On SQLite "INTEGER PRIMARY KEY" makes the position the rowid itself: entries are read
        # and appended in one B-tree instead of the table plus a separate position index.
        # (Logs created before keep their BIGINT key and still work, only slower.)
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_position", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("aggregate_id", sa.String(200), nullable=False),
        sa.Column("region", sa.String(500), nullable=False),
        sa.Column("municipality", sa.String(500), nullable=True),
        sa.Column("organisation", sa.String(500), nullable=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        # Entry format 2: when this log appended the entry (its own clock) and the business date
        # the event carries (a meeting's date; else when it occurred). Null on entries of
        # format 1, appended before these existed; both are hashed in format 2 (see chain).
        sa.Column("appended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("business_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_audit_entries_event_id"),
        sa.UniqueConstraint("source", "source_position", name="uq_audit_entries_source_pos"),
        sa.Index("ix_audit_entries_aggregate_id", "aggregate_id"),
        sa.Index("ix_audit_entries_occurred_at", "occurred_at"),
        sa.Index("ix_audit_entries_appended_at", "appended_at"),
        sa.Index("ix_audit_entries_business_at", "business_at"),
    )
    sa.Table(
        "audit_state",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),  # JSON list of hex subtree roots
    )
    # What the store knows about the heads kept outside it, so that a heads file that goes
    # missing is noticed: how many heads were written to it and up to which size, and when
    # the log first held an entry (this machine's clock), from which a first head is due.
    sa.Table(
        "audit_signing",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("heads", sa.BigInteger, nullable=False),
        sa.Column("signed_size", sa.BigInteger, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_entry_at", sa.DateTime(timezone=True), nullable=True),
    )
    return metadata


metadata = build_metadata()


@dataclass(frozen=True)
class AuditEnvelope:
    """One incoming event as delivered by JetStream; ``data`` is opaque canonical JSON."""

    data: bytes
    source: str
    source_position: int
    event_id: str
    event_type: str
    occurred_at: datetime
    aggregate_id: str
    region: str
    municipality: str | None = None
    organisation: str | None = None
    #: The business date the event carries; None: the store derives it (``history``).
    business_at: datetime | None = None


@dataclass(frozen=True)
class StoredEntry:
    position: int
    source: str
    source_position: int
    event_id: str
    event_type: str
    occurred_at: datetime
    aggregate_id: str
    region: str
    municipality: str | None
    organisation: str | None
    data: bytes
    leaf_hash: bytes
    chain_hash: bytes
    appended_at: datetime | None = None  # None: an entry of format 1
    business_at: datetime | None = None

    def entry_bytes(self) -> bytes:
        return _entry_bytes(self)


class TreeHead(NamedTuple):
    size: int
    root: bytes
    chain: bytes


@dataclass(frozen=True)
class SigningRecord:
    """The store's own account of signing (``audit_signing``); see ``AuditStore.verify``."""

    heads: int  # heads written to the heads file
    signed_size: int  # the largest size among them
    signed_at: datetime | None
    first_entry_at: datetime | None  # when the log first held an entry


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    head: SignedHead


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _entry_bytes(e: Any) -> bytes:
    return encode_entry(
        source=e.source,
        source_position=e.source_position,
        event_id=e.event_id,
        event_type=e.event_type,
        occurred_at=e.occurred_at,
        aggregate_id=e.aggregate_id,
        region=e.region,
        municipality=e.municipality,
        organisation=e.organisation,
        data=bytes(e.data),
        appended_at=e.appended_at,
        business_at=e.business_at,
    )


_ENTRY_FIELDS = (
    "position", "source", "source_position", "event_id", "event_type", "occurred_at",
    "aggregate_id", "region", "municipality", "organisation", "data", "leaf_hash", "chain_hash",
    "appended_at", "business_at",
)




@dataclass(frozen=True)
class _Checkpoint:
    size: int
    root_hex: str
    chain_hex: str

