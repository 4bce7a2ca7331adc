"""Events signed by the service that stored them, checked by everyone who reads them.

Every service holds an Ed25519 key; its relay signs the canonical bytes of each envelope
(``Envelope.to_bytes``, exactly what is published) and puts the signature in a header. Every
consumer knows every service's public key (the keyring) and accepts a message only when the
envelope parses, its source is the stream's service and the one whose key verifies the
signature, and the subject is the one the envelope names. Anything else is *forged*: the
consumer quarantines it with the reason and raises an alarm, never applies it.

The same Ed25519 key signs the actor claims of a service's requests (``shared.claims``), its
sealed replies (``shared.sealed``) and, the registry's, revoked tokens (``shared.revocations``),
each under a label of its own so that none ever verifies as an event or as another. Beside it
each service holds an X25519 key: replies to its requests are encrypted to it.

Keys live in one folder (``Settings.event_keys_dir``, by default ``<data>/secrets/signing``):
``keyring.json`` (Ed25519 public keys of all services), ``exchange.json`` (their X25519 public
keys), ``<service>.key`` and ``<service>.x25519.key`` (private keys, mode 0600). Embedded mode
generates all of them at once on first use; a distributed deployment hands each service both
public files and its own private keys only (docs: deploy/README.md).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from prometheus_client import Counter
from pydantic import ValidationError

from shared.contracts import SOURCES, Envelope
from shared.events import PUBLISHED_BY
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

SIGNATURE_HEADER = "Nastavnik-Signature"
KEYRING_FILE = "keyring.json"
EXCHANGE_FILE = "exchange.json"
SIGNATURE_PREFIX = "ed25519:"

EVENTS_QUARANTINED = Counter("nastavnik_events_quarantined",
                             "Events refused by a consumer (forged, unsigned, malformed)",
                             ["consumer", "stream", "reason"])


class ForgedEvent(Exception):
    """A message on an event stream that its claimed publisher did not sign."""

    def __init__(self, reason: str, envelope: Envelope | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope = envelope


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _raw_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True)
class EventSigner:
    service: str
    key: Ed25519PrivateKey

    def sign(self, data: bytes) -> str:
        return SIGNATURE_PREFIX + _b64(self.key.sign(data))


@dataclass
class Keyring:
    """Public keys of every service, and the private keys this process may sign with."""

    public: dict[str, Ed25519PublicKey]
    private: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    #: X25519 keys replies are encrypted to (``shared.sealed``): public of all, private of ours.
    exchange_public: dict[str, X25519PublicKey] = field(default_factory=dict)
    exchange_private: dict[str, X25519PrivateKey] = field(default_factory=dict)

    @classmethod
    def generate(cls, services: tuple[str, ...] = SOURCES) -> Keyring:
        private = {s: Ed25519PrivateKey.generate() for s in services}
        exchange = {s: X25519PrivateKey.generate() for s in services}
        return cls({s: k.public_key() for s, k in private.items()}, private,
                   {s: k.public_key() for s, k in exchange.items()}, exchange)

    @classmethod
    def load(cls, folder: Path) -> Keyring:
        entries = json.loads((folder / KEYRING_FILE).read_text())
        public = {s: Ed25519PublicKey.from_public_bytes(base64.b64decode(v)) for s, v in entries.items()}
        private = {}
        exchange_public: dict[str, X25519PublicKey] = {}
        exchange_private: dict[str, X25519PrivateKey] = {}
        if (folder / EXCHANGE_FILE).exists():
            exchange_public = {s: X25519PublicKey.from_public_bytes(base64.b64decode(v))
                               for s, v in json.loads((folder / EXCHANGE_FILE).read_text()).items()}
        for service in public:
            path = folder / f"{service}.key"
            if path.exists():
                private[service] = Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text()))
            path = folder / f"{service}.x25519.key"
            if path.exists():
                exchange_private[service] = X25519PrivateKey.from_private_bytes(
                    base64.b64decode(path.read_text()))
        return cls(public, private, exchange_public, exchange_private)

    def for_service(self, service: str) -> Keyring:
        """What one service is handed: every public key, and only its own private ones."""
        return Keyring(dict(self.public), {s: k for s, k in self.private.items() if s == service},
                       dict(self.exchange_public),
                       {s: k for s, k in self.exchange_private.items() if s == service})

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for service, key in self.private.items():
            _write_private(folder / f"{service}.key", _b64(_raw_private(key)))
        self.write_exchange(folder)
        pending = folder / f"{KEYRING_FILE}.tmp"
        pending.write_text(json.dumps({s: _b64(_raw_public(k)) for s, k in self.public.items()},
                                      indent=2, sort_keys=True) + "\n")
        pending.replace(folder / KEYRING_FILE)  # the keyring last: its presence means complete

    def write_exchange(self, folder: Path) -> None:
        for service, exchange_key in self.exchange_private.items():
            _write_private(folder / f"{service}.x25519.key", _b64(_raw_private(exchange_key)))
        pending = folder / f"{EXCHANGE_FILE}.tmp"
        pending.write_text(json.dumps({s: _b64(_raw_public(k)) for s, k in self.exchange_public.items()},
                                      indent=2, sort_keys=True) + "\n")
        pending.replace(folder / EXCHANGE_FILE)

    def signer(self, service: str) -> EventSigner:
        try:
            return EventSigner(service, self.private[service])
        except KeyError:
            raise LookupError(f"no signing key for {service!r}: it cannot publish events") from None

    def check(self, source: str, subject: str, data: bytes, headers: Mapping[str, str] | None) -> Envelope:
        """The envelope of a message of ``source``'s stream, or :class:`ForgedEvent` saying why not."""
        try:
            envelope = Envelope.from_bytes(data)
        except (ValidationError, ValueError):
            raise ForgedEvent("malformed") from None
        if envelope.source != source:
            raise ForgedEvent("source_mismatch", envelope)
        if envelope.subject != subject:
            raise ForgedEvent("subject_mismatch", envelope)
        if PUBLISHED_BY.get(envelope.type, source) != source:
            raise ForgedEvent("type_not_of_source", envelope)
        signature = (headers or {}).get(SIGNATURE_HEADER, "")
        if not signature.startswith(SIGNATURE_PREFIX):
            raise ForgedEvent("unsigned", envelope)
        key = self.public.get(source)
        if key is None:
            raise ForgedEvent("unknown_source", envelope)
        try:
            key.verify(base64.b64decode(signature.removeprefix(SIGNATURE_PREFIX)), data)
        except (InvalidSignature, ValueError):
            raise ForgedEvent("bad_signature", envelope) from None
        return envelope

    def signed_by(self, service: str, data: bytes, headers: Mapping[str, str] | None) -> bool:
        """Did ``service`` sign these bytes (whatever they claim)?"""
        signature = (headers or {}).get(SIGNATURE_HEADER, "")
        key = self.public.get(service)
        if key is None or not signature.startswith(SIGNATURE_PREFIX):
            return False
        try:
            key.verify(base64.b64decode(signature.removeprefix(SIGNATURE_PREFIX)), data)
        except (InvalidSignature, ValueError):
            return False
        return True


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Processes sharing a data folder start together: one generates, the others read its keys."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "w") as lock:  # noqa: PTH123 - a lock file, not data
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def keys_dir(settings: Settings) -> Path:
    return Path(settings.event_keys_dir) if settings.event_keys_dir else settings.secrets_dir / "signing"


def load_keyring(settings: Settings) -> Keyring:
    """The keyring of a deployment; generated (all services) when the folder has none yet."""
    folder = keys_dir(settings)
    if (folder / KEYRING_FILE).exists() and (folder / EXCHANGE_FILE).exists():
        # Complete (the keyring is written last); may be a read-only Secret: nothing to lock.
        return Keyring.load(folder)
    with _locked(folder):
        if not (folder / KEYRING_FILE).exists():
            Keyring.generate().write(folder)
            log.info("signing.keys_generated", folder=str(folder))
        elif not (folder / EXCHANGE_FILE).exists():
            # A folder from before replies were encrypted: its signing keys stay, the exchange
            # keys join them (embedded mode; a distributed deployment is handed both).
            Keyring.generate().write_exchange(folder)
            log.info("signing.exchange_keys_generated", folder=str(folder))
        return Keyring.load(folder)


_installed: Keyring | None = None


def install(keyring: Keyring) -> Keyring:
    """The keyring relays and consumers of this process take unless given one."""
    global _installed  # noqa: PLW0603 - one keyring per process, set by the host at start
    _installed = keyring
    return keyring


def current() -> Keyring:
    """The installed keyring; a process that installed none (a test, a tool) gets keys of its
    own, which agree with nothing outside it."""
    global _installed  # noqa: PLW0603
    if _installed is None:
        _installed = Keyring.generate()
        log.info("signing.ephemeral_keys", pid=os.getpid())
    return _installed
