"""Replies between services, encrypted to the service that asked and signed by the one that answered.

A reply may name people (the registry's names for a document); whoever can read the bus must
not. The answering service encrypts every reply to the requester named in the request's verified
claims (``shared.claims``):

- X25519: a fresh ephemeral key agrees a secret with the requester's static key
  (``Keyring.exchange_public``);
- HKDF-SHA256 (salt: both public keys; info: the label, sender and recipient) makes the AES key;
- AES-256-GCM encrypts the JSON, with the route's subject and the request's ``jti`` as
  associated data: a sealed reply opens only as the answer to the request it was made for;
- Ed25519 (the sender's key, under a label of its own) signs the whole, so the requester knows
  which service answered.

Wire: ``0x01 | signature (64) | ephemeral public key (32) | nonce (12) | ciphertext``; JSON
replies start with ``{``, so a refusal sent before the requester is known stays readable.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.signing import Keyring

VERSION = b"\x01"
LABEL = b"nastavnik-rpc-reply/v1"
SIGNATURE_SIZE = 64
KEY_SIZE = 32
NONCE_SIZE = 12
HEADER_SIZE = 1 + SIGNATURE_SIZE + KEY_SIZE + NONCE_SIZE


class SealError(Exception):
    """A sealed reply that does not open: not for us, not from that sender, or altered."""


def is_sealed(data: bytes) -> bool:
    return data[:1] == VERSION


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key(secret: bytes, ephemeral: bytes, recipient_key: bytes, sender: str, recipient: str) -> bytes:
    info = LABEL + b"|" + sender.encode() + b"|" + recipient.encode()
    return HKDF(SHA256(), KEY_SIZE, salt=ephemeral + recipient_key, info=info).derive(secret)


def context_of(subject: str, jti: str) -> bytes:
    """The associated data: the route and the request a reply answers."""
    return f"{subject}|{jti}".encode()


def seal(keyring: Keyring, sender: str, recipient: str, plaintext: bytes, context: bytes) -> bytes:
    """``plaintext`` encrypted to ``recipient`` and signed by ``sender`` (LookupError when this
    process lacks the sender's key or knows no exchange key of the recipient)."""
    recipient_key = keyring.exchange_public.get(recipient)
    if recipient_key is None:
        raise LookupError(f"no exchange key of {recipient!r}: a reply cannot be sealed to it")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = _raw(ephemeral.public_key())
    key = _key(ephemeral.exchange(recipient_key), ephemeral_raw, _raw(recipient_key), sender, recipient)
    nonce = os.urandom(NONCE_SIZE)
    body = ephemeral_raw + nonce + AESGCM(key).encrypt(nonce, plaintext, context)
    signature = keyring.signer(sender).key.sign(LABEL + b"\n" + context + body)
    return VERSION + signature + body


def open_sealed(keyring: Keyring, sender: str, recipient: str, data: bytes, context: bytes) -> bytes:
    """The plaintext of a reply ``sender`` sealed to ``recipient`` for ``context``, or SealError."""
    if not is_sealed(data) or len(data) < HEADER_SIZE + 16:
        raise SealError("not a sealed reply")
    signature, body = data[1:1 + SIGNATURE_SIZE], data[1 + SIGNATURE_SIZE:]
    sender_key = keyring.public.get(sender)
    private = keyring.exchange_private.get(recipient)
    if sender_key is None or private is None:
        raise SealError("no key to open it with")
    try:
        sender_key.verify(signature, LABEL + b"\n" + context + body)
    except InvalidSignature:
        raise SealError("not signed by the answering service") from None
    ephemeral_raw, nonce = body[:KEY_SIZE], body[KEY_SIZE:KEY_SIZE + NONCE_SIZE]
    try:
        secret = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
        key = _key(secret, ephemeral_raw, _raw(private.public_key()), sender, recipient)
        return AESGCM(key).decrypt(nonce, body[KEY_SIZE + NONCE_SIZE:], context)
    except (InvalidTag, ValueError):
        raise SealError("does not open") from None
