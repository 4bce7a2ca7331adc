"""Tamper-evident, append-only audit log of every event in the system.

``chain`` is pure (hashes, Merkle proofs), ``verify`` walks entries against signed heads (pure
too), ``heads`` signs tree heads with Ed25519 and keeps them outside the database, ``store``
persists entries via SQLAlchemy Core (``records`` its tables and entries, ``verify_store`` and
``export`` its verification and its auditor's export).
"""

from .chain import (
    EMPTY_ROOT,
    CompactRange,
    MerkleAccumulator,
    MerkleTree,
    chain_next,
    consistency_proof,
    encode_entry,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from .export_check import check_export
from .heads import (
    AuditKeyMissing,
    HeadsFile,
    HeadSigner,
    SignedHead,
    create_key,
    load_public_key,
    load_signing_key,
    public_key_pem,
    verify_head,
)
from .records import (
    AuditEnvelope,
    AuditIntegrityError,
    ExportSummary,
    SigningRecord,
    StoredEntry,
    TreeHead,
)
from .store import AuditStore
from .verify import (
    CHAIN_BROKEN,
    DELETED,
    EDITED,
    HEAD_INVALID,
    HEAD_MISMATCH,
    HEADS_MISSING,
    INSERTED,
    REORDERED,
    TRUNCATED,
    Problem,
    VerifyResult,
    verify_entries,
)

__all__ = [
    "CHAIN_BROKEN",
    "DELETED",
    "EDITED",
    "EMPTY_ROOT",
    "HEAD_INVALID",
    "HEAD_MISMATCH",
    "HEADS_MISSING",
    "INSERTED",
    "REORDERED",
    "TRUNCATED",
    "AuditEnvelope",
    "AuditIntegrityError",
    "AuditKeyMissing",
    "AuditStore",
    "CompactRange",
    "ExportSummary",
    "HeadSigner",
    "HeadsFile",
    "MerkleAccumulator",
    "MerkleTree",
    "Problem",
    "SignedHead",
    "SigningRecord",
    "StoredEntry",
    "TreeHead",
    "VerifyResult",
    "chain_next",
    "check_export",
    "consistency_proof",
    "encode_entry",
    "inclusion_proof",
    "leaf_hash",
    "create_key",
    "load_signing_key",
    "load_public_key",
    "merkle_root",
    "node_hash",
    "public_key_pem",
    "verify_consistency",
    "verify_entries",
    "verify_head",
    "verify_inclusion",
]
