"""Ed25519-signed tree heads kept outside the database.

A head commits to (size, Merkle root, chain hash) at a moment in time. Whoever can rewrite the
database (and recompute every stored hash) still cannot forge a head without the private key,
so the heads file is the external anchor that catches full rewrites.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEAD_DOMAIN = b"nastavnik-audit-head/v1"


@dataclass(frozen=True)
class SignedHead:
    size: int
    root_hex: str
    chain_hex: str
    time: str  # UTC ISO-8601
    key_id: str
    signature_b64: str

    def signed_bytes(self) -> bytes:
        return head_message(self.size, self.root_hex, self.chain_hex, self.time, self.key_id)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> SignedHead:
        size = raw["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("size must be a non-negative integer")
        fields = {}
        for name in ("root_hex", "chain_hex", "time", "key_id", "signature_b64"):
            value = raw[name]
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            fields[name] = value
        return cls(size=size, **fields)


def head_message(size: int, root_hex: str, chain_hex: str, time: str, key_id: str) -> bytes:
    # Domain-separated, newline-joined: no JSON canonicalisation ambiguity in what is signed.
    return b"\n".join(
        [HEAD_DOMAIN, str(size).encode(), root_hex.encode(), chain_hex.encode(), time.encode(),
         key_id.encode()]
    )


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """Short fingerprint so a verifier can tell which key a head claims without trying all."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes | Path | Ed25519PublicKey) -> Ed25519PublicKey:
    if isinstance(pem, Ed25519PublicKey):
        return pem
    if isinstance(pem, Path):
        pem = pem.read_bytes()
    if isinstance(pem, str):
        pem = pem.encode("ascii")
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("ожидался открытый ключ Ed25519")
    return key


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class HeadSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def sign(self, size: int, root_hex: str, chain_hex: str, time: str | None = None) -> SignedHead:
        stamp = time or utc_now_iso()
        signature = self._key.sign(head_message(size, root_hex, chain_hex, stamp, self.key_id))
        return SignedHead(
            size=size,
            root_hex=root_hex,
            chain_hex=chain_hex,
            time=stamp,
            key_id=self.key_id,
            signature_b64=base64.b64encode(signature).decode("ascii"),
        )

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """For the checkpoint notes the same key signs (``checkpoint.NoteSigner``)."""
        return self._key

    def sign_bytes(self, message: bytes) -> str:
        """Raw signature for other domain-separated messages (export manifests)."""
        return base64.b64encode(self._key.sign(message)).decode("ascii")


def verify_head(head: SignedHead, public_key: Ed25519PublicKey) -> bool:
    if head.key_id != key_id_of(public_key):
        return False
    return verify_signature(public_key, head.signed_bytes(), head.signature_b64)


def verify_signature(public_key: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 key that must exist."""
    path = Path(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: ожидался закрытый ключ Ed25519")
    return key


class AuditKeyMissing(RuntimeError):
    """No signing key where one must be: only ``nastavnik audit init-key`` (or the
    deployment's secret mounted in its place) may create one, never a command in passing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"Ключа подписи журнала аудита нет ({path}). Ключ не создаётся сам: создайте его "
            "явно командой `nastavnik audit init-key --data-dir ПАПКА` или положите туда ключ "
            "развёртывания (секрет), затем повторите."
        )


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """The log's signing key, which must exist (``AuditKeyMissing`` otherwise)."""
    path = Path(path)
    if not path.exists():
        raise AuditKeyMissing(path)
    return load_private_key(path)


def create_key(path: str | Path) -> Ed25519PrivateKey:
    """Create a new key readable by the owner only; ``FileExistsError`` if one is there.

    Only the explicit ``init-key`` step calls this: a key made silently by whatever command
    ran first would sign whatever the database holds, forged or not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL + mode at creation: the key is never world-readable, not even for an instant,
    # and two processes racing to create it cannot silently overwrite each other.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return key


@dataclass(frozen=True)
class HeadIssue:
    line: int
    size: int | None
    message_ru: str


class HeadsFile:
    """Append-only JSON Lines file of signed heads (one head per line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, head: SignedHead) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(head.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _lines(self) -> Iterator[tuple[int, str]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield number, line

    def all(self) -> list[SignedHead]:
        """Every head; raises ValueError naming the line if the file is malformed."""
        heads = []
        for number, line in self._lines():
            try:
                heads.append(SignedHead.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path}:{number}: повреждённая строка вершины") from exc
        return heads

    def latest(self) -> SignedHead | None:
        heads = self.all()
        return max(heads, key=lambda h: h.size) if heads else None

    def checked(
        self, public_key: Ed25519PublicKey
    ) -> tuple[list[SignedHead], list[HeadIssue]]:
        """Signature-checked heads plus every issue found (bad line, bad signature, fork)."""
        good: list[SignedHead] = []
        issues: list[HeadIssue] = []
        by_size: dict[int, SignedHead] = {}
        for number, line in self._lines():
            try:
                head = SignedHead.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                issues.append(HeadIssue(number, None, f"строка {number} файла вершин повреждена"))
                continue
            if not verify_head(head, public_key):
                issues.append(
                    HeadIssue(
                        number, head.size,
                        f"подпись вершины в строке {number} (размер {head.size}) недействительна: "
                        "файл вершин подделан или подписан другим ключом",
                    )
                )
                continue
            other = by_size.get(head.size)
            if other is not None and (other.root_hex, other.chain_hex) != (
                head.root_hex, head.chain_hex
            ):
                issues.append(
                    HeadIssue(
                        number, head.size,
                        f"две подписанные вершины размера {head.size} расходятся (строка "
                        f"{number}): журнал был переписан после подписи",
                    )
                )
                continue
            by_size[head.size] = head
            good.append(head)
        return good, issues
