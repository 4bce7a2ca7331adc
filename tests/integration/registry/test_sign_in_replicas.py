"""Sign-in state shared by registry replicas on one database (SQLite file, and PostgreSQL when set):
the delays after failed sign-ins count failures wherever they land, and TOTP secrets are sealed at rest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import sqlalchemy as sa

from services.registry.accounts import DEMO_PASSWORD, AccountService
from services.registry.application import RegistryService
from services.registry.credentials import SharedDelays, login_delays
from services.registry.passwords import hash_password
from shared.auth import Role
from shared.errors import DomainError
from shared.settings import Settings
from shared.store import view_engine
from tests.conftest import TEST_SECRET
from tests.sign_in_codes import demo_code


@pytest.fixture
def replicas(settings: Settings) -> Iterator[list[RegistryService]]:
    strict = settings.model_copy(update={"login_max_failures": 3})
    services = [RegistryService(strict), RegistryService(strict)]
    try:
        yield services
    finally:
        for service in services:
            service.close()


def test_failures_split_over_replicas_delay_the_guessing_address_never_the_owner(
        replicas: list[RegistryService]) -> None:
    first, second = replicas
    for replica in (first, second, first):  # 2 + 1: neither replica alone reached 3
        with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
            replica.accounts.login("regional", "не-тот-пароль", None, "10.0.0.1")
    for replica in (second, first):  # the guessing address now waits, on every replica
        with pytest.raises(DomainError) as caught:
            replica.accounts.login("regional", DEMO_PASSWORD, None, "10.0.0.1")
        assert (caught.value.code, caught.value.status) == ("LOGIN_DELAYED", 429)
        assert caught.value.details[0]["retry_after"] >= 1
    # The owner, from an address that did not fail, is not held up: no lock-out (with the code
    # of the second factor these accounts need, as a person types it).
    place = str(first.settings.data_dir)
    assert second.accounts.login("regional", DEMO_PASSWORD, demo_code("regional", place),
                                 "10.0.0.2").access_token
    # Another login is not affected, and a success clears its own streak everywhere.
    with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
        second.accounts.login("auditor", "не-тот-пароль", None, "10.0.0.1")
    assert first.accounts.login("auditor", DEMO_PASSWORD, demo_code("auditor", place),
                                "10.0.0.1").access_token
    with first.engine.connect() as conn:
        assert conn.execute(sa.select(login_delays.c.key)).scalars().all() == ["regional|10.0.0.1"]


def test_concurrent_failures_on_two_replicas_are_all_counted(settings: Settings) -> None:
    limit = 40
    security = Settings(login_max_failures=limit, login_lockout_seconds=600)
    engines = [view_engine(settings, "registry") for _ in range(2)]
    try:
        login_delays.metadata.create_all(engines[0])
        delays = [SharedDelays(engine, security, time.time) for engine in engines]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: delays[i % 2].failed("target", "10.0.0.9"), range(limit - 1)))
        assert delays[1].check("target", "10.0.0.9")  # limit - 1 failures on record, no wait yet
        delays[0].failed("target", "10.0.0.9")  # a lost update anywhere above would leave it open
        for delay in delays:
            with pytest.raises(DomainError, match="LOGIN_DELAYED"):
                delay.check("target", "10.0.0.9")
            assert not delay.check("target", "10.0.0.8")  # another address: free to try
    finally:
        for engine in engines:
            engine.dispose()


def test_plain_totp_secrets_of_an_older_database_are_sealed_at_start(settings: Settings) -> None:
    engine = view_engine(settings, "registry")
    old = sa.MetaData()
    # The table as the registry created it before secrets were sealed: a 64-character column.
    table = sa.Table(
        "registry_accounts", old,
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("person_id", sa.Uuid, nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean, nullable=False),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    secret = pyotp.random_base32()
    try:
        old.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert().values(
                login="curator-1", password_hash=hash_password("очень-длинный-пароль"),
                role=Role.CURATOR.value, scope="demo/m1/s1", totp_secret=secret, totp_enabled=True,
                disabled=False, created_by="test", created_at=0.0))

        service = AccountService(engine, TEST_SECRET, secrets_dir=settings.secrets_dir)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(table.c.totp_secret)).scalar_one()
        assert stored.startswith("v1:") and secret not in stored
        code = pyotp.TOTP(secret).now()
        assert service.login("curator-1", "очень-длинный-пароль", code, "10.0.0.1").access_token
        # A second replica starting on the sealed table leaves it as it is.
        AccountService(engine, TEST_SECRET, secrets_dir=settings.secrets_dir)
        with engine.connect() as conn:
            assert conn.execute(sa.select(table.c.totp_secret)).scalar_one() == stored
    finally:
        engine.dispose()
