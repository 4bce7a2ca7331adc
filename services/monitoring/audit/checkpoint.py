"""Checkpoints in C2SP signed-note form (c2sp.org/tlog-checkpoint, c2sp.org/signed-note).

A checkpoint is the text

    <origin>\\n<tree size>\\n<base64 RFC 6962 root>\\n

followed by a blank line and one signature line per signer:

    \\u2014 <key name> <base64(key hash[4] || Ed25519 signature[64])>\\n

The signature covers the text above the blank line, final newline included; the key hash is
the first four bytes of SHA-256(key name || 0x0A || 0x01 || raw Ed25519 public key). The log
and each witness sign the same text with keys of their own, so a checkpoint cosigned by a
witness is this note with one more line. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .heads import public_key_bytes

ED25519_ALG = 0x01
SIG_PREFIX = "\u2014 "  # EM DASH and a space, as signed-note prescribes


class NoteError(ValueError):
    """Not a well-formed checkpoint note."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    @property
    def root_hex(self) -> str:
        return self.root.hex()

    def body(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()

    @classmethod
    def parse_body(cls, body: bytes) -> Checkpoint:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("текст контрольной точки не в UTF-8") from exc
        lines = text.split("\n")
        # Exactly origin, size, root and the final newline (no extension lines are issued).
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("контрольная точка: нужны строки происхождения, размера и корня")
        size_text, root_text = lines[1], lines[2]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError("контрольная точка: размер дерева — десятичное число без ведущих нулей")
        try:
            root = base64.b64decode(root_text, validate=True)
        except ValueError as exc:
            raise NoteError("контрольная точка: корень не в base64") from exc
        if len(root) != 32:
            raise NoteError("контрольная точка: корень — 32 байта")
        return cls(lines[0], int(size_text), root)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def text(self) -> str:
        return self.checkpoint.body().decode() + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, sig: NoteSignature) -> SignedNote:
        kept = tuple(s for s in self.signatures if (s.name, s.key_hash) != (sig.name, sig.key_hash))
        return SignedNote(self.checkpoint, (*kept, sig))

    def signed_by(self, verifier: NoteVerifier) -> bool:
        return any(verifier.verify(self.checkpoint.body(), s) for s in self.signatures)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG])
                          + public_key_bytes(public_key)).digest()[:4]


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError("имя ключа: непустое, без пробелов и без «+»")
    return name


class NoteSigner:
    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._key = key
        self.public_key = key.public_key()
        self.key_hash = key_hash(name, self.public_key)

    def sign(self, body: bytes) -> NoteSignature:
        return NoteSignature(self.name, self.key_hash, self._key.sign(body))

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.public_key)


class NoteVerifier:
    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        self.name = check_key_name(name)
        self.public_key = public_key
        self.key_hash = key_hash(name, public_key)

    def verify(self, body: bytes, sig: NoteSignature) -> bool:
        if sig.name != self.name or sig.key_hash != self.key_hash:
            return False
        try:
            self.public_key.verify(sig.signature, body)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        """The verifier key string of signed-note: ``<name>+<hex key hash>+<base64(alg||key)>``."""
        blob = base64.b64encode(bytes([ED25519_ALG]) + public_key_bytes(self.public_key)).decode()
        return f"{self.name}+{self.key_hash.hex()}+{blob}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        try:
            name, hash_hex, blob = vkey.strip().split("+", 2)  # base64 may hold «+»
            raw = base64.b64decode(blob, validate=True)
        except ValueError as exc:
            raise NoteError("ключ проверки: нужно «имя+хэш+ключ»") from exc
        if len(raw) != 33 or raw[0] != ED25519_ALG:
            raise NoteError("ключ проверки: ожидался ключ Ed25519")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_hash.hex() != hash_hex:
            raise NoteError("ключ проверки: хэш ключа не совпадает с ключом")
        return verifier


def parse_note(text: str) -> SignedNote:
    """A signed note; signatures are parsed, not checked (see ``SignedNote.signed_by``)."""
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise NoteError("подписанная заметка: нет пустой строки перед подписями")
    checkpoint = Checkpoint.parse_body((body + "\n").encode())
    signatures = []
    if not sigs.endswith("\n"):
        raise NoteError("подписанная заметка: строки подписей оканчиваются переводом строки")
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteError("подписанная заметка: строка подписи начинается с «— »")
        try:
            name, blob = line[len(SIG_PREFIX):].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except ValueError as exc:
            raise NoteError("подписанная заметка: повреждённая строка подписи") from exc
        if len(raw) != 4 + 64:
            raise NoteError("подписанная заметка: подпись Ed25519 — 4 + 64 байта")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("подписанная заметка без подписей")
    return SignedNote(checkpoint, tuple(signatures))


def sign_checkpoint(signer: NoteSigner, checkpoint: Checkpoint) -> SignedNote:
    return SignedNote(checkpoint, (signer.sign(checkpoint.body()),))
