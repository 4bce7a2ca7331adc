"""Password hashes: argon2id at no less than OWASP's floor, and hashes made with the former
parameters still open their accounts and are remade with the current ones at that sign-in."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from services.registry.accounts import AccountService, accounts
from services.registry.throttling import LoginGuard
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.settings import Settings
from tests.conftest import TEST_SECRET

REGIONAL = Actor(user="admin", role=Role.REGIONAL, scope=OrgPath(region="demo"))
PASSWORD = "очень-длинный-пароль"


@pytest.fixture
def service(tmp_path: Path) -> AccountService:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    settings = Settings(login_max_failures=3, login_lockout_seconds=600, login_address_attempts=50)
    service = AccountService(engine, TEST_SECRET, settings, secrets_dir=tmp_path / "secrets")
    service.guard = LoginGuard(settings)
    service.create_account(REGIONAL, "curator-1", PASSWORD, Role.CURATOR, "demo/m1/s1")
    return service


def stored_hash(service: AccountService) -> str:
    with service.engine.connect() as conn:
        return str(conn.execute(sa.select(accounts.c.password_hash)
                                .where(accounts.c.login == "curator-1")).scalar_one())


def parameters(encoded: str) -> dict[str, int]:
    """``m``, ``t`` and ``p`` of a PHC string ``$argon2id$v=19$m=..,t=..,p=..$salt$hash``."""
    return {k: int(v) for k, v in (kv.split("=") for kv in encoded.split("$")[3].split(","))}


def test_new_hashes_are_argon2id_at_least_at_owasps_floor(service: AccountService) -> None:
    encoded = stored_hash(service)
    assert encoded.startswith("$argon2id$")
    # OWASP Password Storage Cheat Sheet: argon2id, at least 19 MiB, 2 iterations, 1 lane.
    found = parameters(encoded)
    assert found["m"] >= 19 * 1024 and found["t"] >= 2 and found["p"] >= 1


def test_a_hash_of_the_former_profile_signs_in_and_is_remade(service: AccountService) -> None:
    former = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).hash(PASSWORD)
    with service.engine.begin() as conn:
        conn.execute(accounts.update().where(accounts.c.login == "curator-1")
                     .values(password_hash=former))

    with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
        service.login("curator-1", "неверный-пароль", None, "10.0.0.1")
    assert stored_hash(service) == former  # a wrong password changes nothing

    assert service.login("curator-1", PASSWORD, None, "10.0.0.2").access_token
    remade = stored_hash(service)
    assert remade != former and parameters(remade) == parameters(
        PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("x"))
    assert service.login("curator-1", PASSWORD, None, "10.0.0.2").access_token
