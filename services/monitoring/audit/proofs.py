"""What the log serves to witnesses and auditors: its checkpoint as a signed note, and a
consistency proof between any two sizes (RFC 6962 §2.1.2, over the stored leaf hashes)."""

from __future__ import annotations

import sqlalchemy as sa

from .chain import MerkleTree
from .checkpoint import Checkpoint, NoteSigner, SignedNote, sign_checkpoint
from .heads import SignedHead
from .records import AuditIntegrityError
from .store import AuditStore

#: The origin line of this deployment's checkpoints: ``nastavnik.audit/<region>``.
ORIGIN_PREFIX = "nastavnik.audit/"


def origin_of(region: str) -> str:
    return f"{ORIGIN_PREFIX}{region}"


def tree_of(store: AuditStore, conn: sa.Connection, size: int | None = None) -> MerkleTree:
    """The Merkle tree over the first ``size`` stored leaves (all when None)."""
    t = store.entries
    query = sa.select(t.c.position, t.c.leaf_hash).order_by(t.c.position)
    if size is not None:
        query = query.where(t.c.position <= size)
    leaves = bytearray()
    expected = 1
    for pos, leaf in conn.execute(query):
        if pos != expected:
            raise AuditIntegrityError(f"пропуск в журнале на позиции {expected}")
        leaves += leaf
        expected += 1
    tree = MerkleTree(leaves)
    if size is not None and tree.size != size:
        raise AuditIntegrityError(f"в журнале {tree.size} записей, меньше запрошенных {size}")
    return tree


def consistency_proof(store: AuditStore, conn: sa.Connection, old: int, new: int) -> list[bytes]:
    """Proof that the tree of size ``old`` is a prefix of the tree of size ``new``; empty when
    ``old`` is 0 or equals ``new`` (nothing to prove)."""
    if not 0 <= old <= new:
        raise ValueError("нужно 0 ≤ старый размер ≤ новый размер")
    if old in (0, new):
        return []
    return tree_of(store, conn, new).consistency_proof(old)


def note_of(head: SignedHead, signer: NoteSigner) -> SignedNote:
    """The checkpoint note of a signed head, signed by the log's key (same key, note form)."""
    return sign_checkpoint(signer, Checkpoint(signer.name, head.size, bytes.fromhex(head.root_hex)))
