"""What a consumer accepts from a stream: the publisher's signature over the exact bytes, on the
subject the envelope names, of an event that publisher publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import signing
from shared.auth import OrgPath, system_actor
from shared.contracts import Envelope
from shared.settings import Settings


def envelope(source: str = "registry", event_type: str = "MenteeRegistered") -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), type=event_type, schema_version=1, occurred_at=datetime.now(UTC),
        org=OrgPath(region="demo", municipality="m1", organisation="s1"), actor=system_actor("demo"),
        correlation_id=uuid.uuid4(), source=source, source_position=1, aggregate_id=uuid.uuid4(),
        aggregate_version=1, payload={"organisation_id": str(uuid.uuid4()), "category": "student",
                                      "birth_year": 2013, "minor": True})


KEYS = signing.Keyring.generate()


def signed(env: Envelope, by: str = "registry", keys: signing.Keyring = KEYS) -> dict[str, str]:
    return {signing.SIGNATURE_HEADER: keys.signer(by).sign(env.to_bytes())}


def reason(source: str, subject: str, data: bytes, headers: dict[str, str] | None) -> str:
    with pytest.raises(signing.ForgedEvent) as refused:
        KEYS.check(source, subject, data, headers)
    return refused.value.reason


def test_the_publishers_signature_on_its_own_subject_is_accepted() -> None:
    env = envelope()
    assert KEYS.check("registry", env.subject, env.to_bytes(), signed(env)) == env


def test_every_way_of_forging_is_refused_with_its_reason() -> None:
    env = envelope()
    data = env.to_bytes()
    assert reason("registry", env.subject, data, None) == "unsigned"
    assert reason("registry", env.subject, data, signed(env, "monitoring")) == "bad_signature"
    stranger = signing.Keyring.generate()
    assert reason("registry", env.subject, data, signed(env, keys=stranger)) == "bad_signature"
    assert reason("registry", env.subject, data.replace(b"2013", b"2012"), signed(env)) == "bad_signature"
    assert reason("monitoring", env.subject, data, signed(env)) == "source_mismatch"
    elsewhere = env.subject.replace(".m1.", ".m2.")
    assert reason("registry", elsewhere, data, signed(env)) == "subject_mismatch"
    own = envelope("monitoring")  # a monitoring-signed MenteeRegistered: not its event to publish
    by_itself = signed(own, "monitoring")
    assert reason("monitoring", own.subject, own.to_bytes(), by_itself) == "type_not_of_source"
    assert reason("registry", env.subject, b"{not json", signed(env)) == "malformed"


def test_keys_are_generated_once_per_data_folder_private_keys_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = signing.load_keyring(settings)
    again = signing.load_keyring(settings)
    env = envelope()
    assert again.check("registry", env.subject, env.to_bytes(), signed(env, keys=first)) == env
    folder = signing.keys_dir(settings)
    assert all((folder / f"{s}.key").stat().st_mode & 0o777 == 0o600 for s in first.public)
