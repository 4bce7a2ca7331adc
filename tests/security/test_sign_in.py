"""Sign-in: passwords (argon2), delays after failures, throttling, short-lived tokens, refresh
rotation, TOTP, OIDC.

The delays shared by replicas are tested in tests/integration/registry/test_sign_in_replicas.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pyotp
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from services.registry.accounts import DEMO_PASSWORD, AccountService, accounts
from services.registry.passwords import verify_password
from services.registry.runtime import RegistryRuntime
from services.registry.throttling import LoginGuard
from shared.auth import Actor, OrgPath, Role, read_token
from shared.errors import DomainError
from shared.host import create_app
from shared.middlewares import FORWARDED_BY_HEADER, client_address, forwarding_proof
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import TEST_SECRET

REGIONAL = Actor(user="admin", role=Role.REGIONAL, scope=OrgPath(region="demo"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(tmp_path: Path) -> AccountService:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    settings = Settings(login_max_failures=3, login_lockout_seconds=600,
                                login_address_attempts=50, access_token_minutes=15)
    clock = Clock()
    service = AccountService(engine, TEST_SECRET, settings, clock=clock,
                             secrets_dir=tmp_path / "secrets")
    service.guard = LoginGuard(settings, clock=clock)
    service.create_account(REGIONAL, "curator-1", "очень-длинный-пароль", Role.CURATOR, "demo/m1/s1")
    return service


def test_password_is_an_argon2id_hash_never_the_password(service: AccountService) -> None:
    with service.engine.connect() as conn:
        stored = conn.execute(sa.select(accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "очень" not in stored
    assert verify_password(stored, "очень-длинный-пароль")
    assert not verify_password(stored, "очень-длинный-парол")
    assert not verify_password(None, "очень-длинный-пароль")  # unknown login: still False
    with pytest.raises(DomainError, match="PASSWORD_TOO_SHORT"):
        service.create_account(REGIONAL, "curator-9", "short", Role.CURATOR, "demo/m1/s1")


def test_wrong_password_and_unknown_login_look_the_same(service: AccountService) -> None:
    for login in ("curator-1", "nobody"):
        with pytest.raises(DomainError) as caught:
            service.login(login, "неверный-пароль", None, "10.0.0.1")
        assert (caught.value.code, caught.value.status) == ("INVALID_CREDENTIALS", 401)


def test_failures_delay_the_guessing_address_progressively_never_the_owner(
        service: AccountService) -> None:
    clock: Clock = service.clock
    for _ in range(3):
        with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
            service.login("curator-1", "неверный-пароль", None, "10.0.0.1")
    # The guessing address waits, even with the right password (it may be the guesser's) ...
    with pytest.raises(DomainError) as caught:
        service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    assert (caught.value.code, caught.value.status) == ("LOGIN_DELAYED", 429)
    first_wait = caught.value.details[0]["retry_after"]
    # ... while the owner signs in from an address that did not fail: no lock-out.
    session = service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.2")
    assert read_token(session.access_token, TEST_SECRET).scope == OrgPath.parse("demo/m1/s1")
    # Each further failure doubles the wait of the guessing address.
    clock.now += first_wait
    with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
        service.login("curator-1", "неверный-пароль", None, "10.0.0.1")
    with pytest.raises(DomainError) as caught:
        service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    assert caught.value.details[0]["retry_after"] == 2 * first_wait
    clock.now += 2 * first_wait
    assert service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1").access_token


def test_throttling_per_client_address(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    settings = Settings(login_address_attempts=5, login_address_window_seconds=60,
                                login_max_failures=100)
    service = AccountService(engine, TEST_SECRET, settings, secrets_dir=tmp_path / "secrets")
    for i in range(5):
        with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
            service.login(f"guess-{i}", "неверный-пароль", None, "10.9.9.9")
    with pytest.raises(DomainError) as caught:
        service.login("guess-x", "неверный-пароль", None, "10.9.9.9")
    assert (caught.value.code, caught.value.status) == ("LOGIN_THROTTLED", 429)
    assert caught.value.details[0]["retry_after"] > 0
    # Another address is not affected.
    with pytest.raises(DomainError, match="INVALID_CREDENTIALS"):
        service.login("guess-x", "неверный-пароль", None, "10.1.1.1")


def test_access_token_expires_and_refresh_rotates(service: AccountService) -> None:
    clock: Clock = service.clock
    session = service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    claims = jwt.decode(session.access_token, TEST_SECRET, algorithms=["HS256"],
                        options={"verify_exp": False, "verify_aud": False})
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["iss"] == "nastavnik" and claims["aud"] == "nastavnik-api" and claims["jti"]
    # Each of exp, jti, aud, iss is required: a token without one is refused.
    for claim in ("exp", "jti", "aud", "iss"):
        partial = jwt.encode({k: v for k, v in claims.items() if k != claim}, TEST_SECRET,
                             algorithm="HS256")
        with pytest.raises(DomainError, match="UNAUTHENTICATED"):
            read_token(partial, TEST_SECRET)
    for claim, value in (("aud", "other-app"), ("iss", "someone-else")):
        foreign = jwt.encode({**claims, claim: value}, TEST_SECRET, algorithm="HS256")
        with pytest.raises(DomainError, match="UNAUTHENTICATED"):
            read_token(foreign, TEST_SECRET)
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, TEST_SECRET, algorithm="HS256")
    with pytest.raises(DomainError, match="TOKEN_EXPIRED"):
        read_token(expired, TEST_SECRET)

    renewed = service.refresh(session.refresh_token)
    assert renewed.refresh_token != session.refresh_token
    assert read_token(renewed.access_token, TEST_SECRET).user == "curator-1"
    # The used refresh token is spent; presenting it again ends the whole session (theft).
    with pytest.raises(DomainError, match="INVALID_REFRESH_TOKEN"):
        service.refresh(session.refresh_token)
    with pytest.raises(DomainError, match="INVALID_REFRESH_TOKEN"):
        service.refresh(renewed.refresh_token)

    later = service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    service.logout(later.refresh_token)
    with pytest.raises(DomainError, match="INVALID_REFRESH_TOKEN"):
        service.refresh(later.refresh_token)
    last = service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    clock.now += 13 * 3600  # past the refresh lifetime
    with pytest.raises(DomainError, match="INVALID_REFRESH_TOKEN"):
        service.refresh(last.refresh_token)


def test_totp_second_factor(service: AccountService) -> None:
    clock: Clock = service.clock
    actor = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))
    secret = service.start_totp(actor)["secret"]
    totp = pyotp.TOTP(secret)
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.confirm_totp(actor, "000000" if totp.at(clock.now) != "000000" else "111111")
    service.confirm_totp(actor, totp.at(clock.now))

    clock.now += 60
    with pytest.raises(DomainError, match="MFA_REQUIRED"):
        service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.login("curator-1", "очень-длинный-пароль", totp.at(clock.now - 3600), "10.0.0.1")
    code = totp.at(clock.now)
    assert service.login("curator-1", "очень-длинный-пароль", code, "10.0.0.1").access_token
    with pytest.raises(DomainError, match="INVALID_OTP"):  # a code is good once
        service.login("curator-1", "очень-длинный-пароль", code, "10.0.0.1")


def _enable_totp(service: AccountService, actor: Actor) -> pyotp.TOTP:
    totp = pyotp.TOTP(service.start_totp(actor)["secret"])
    service.confirm_totp(actor, totp.at(service.clock()))
    return totp


CURATOR_1 = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))


def test_an_active_second_factor_is_replaced_only_with_its_code_and_only_once_confirmed(
        service: AccountService) -> None:
    clock: Clock = service.clock
    old = _enable_totp(service, CURATOR_1)
    clock.now += 60
    # A stolen session alone can neither switch the factor off nor start replacing it.
    with pytest.raises(DomainError) as caught:
        service.start_totp(CURATOR_1)
    assert (caught.value.code, caught.value.status) == ("OTP_REQUIRED", 422)
    wrong = "000000" if old.at(clock.now) != "000000" else "111111"
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.start_totp(CURATOR_1, wrong)
    with pytest.raises(DomainError, match="MFA_REQUIRED"):
        service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    # With the current code a new secret is set up; the old one stays in force until confirmed.
    new = pyotp.TOTP(service.start_totp(CURATOR_1, old.at(clock.now))["secret"])
    clock.now += 60
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.login("curator-1", "очень-длинный-пароль", new.at(clock.now), "10.0.0.1")
    assert service.login("curator-1", "очень-длинный-пароль", old.at(clock.now), "10.0.0.1")
    clock.now += 60
    service.confirm_totp(CURATOR_1, new.at(clock.now))
    with pytest.raises(DomainError, match="INVALID_OTP"):  # the confirming code is spent
        service.login("curator-1", "очень-длинный-пароль", new.at(clock.now), "10.0.0.1")
    clock.now += 60
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.login("curator-1", "очень-длинный-пароль", old.at(clock.now), "10.0.0.1")
    assert service.login("curator-1", "очень-длинный-пароль", new.at(clock.now), "10.0.0.1")


def test_wrong_codes_to_replace_the_factor_count_towards_the_delays(service: AccountService) -> None:
    clock: Clock = service.clock
    totp = _enable_totp(service, CURATOR_1)
    wrong = "000000" if totp.at(clock.now) != "000000" else "111111"
    for _ in range(3):  # the fixture delays after 3 failures
        with pytest.raises(DomainError, match="INVALID_OTP"):
            service.start_totp(CURATOR_1, wrong)
    with pytest.raises(DomainError, match="LOGIN_DELAYED"):
        service.start_totp(CURATOR_1, totp.at(clock.now + 30))


def test_one_code_passes_once_even_for_two_sign_ins_that_read_the_account_together(
        service: AccountService) -> None:
    clock: Clock = service.clock
    totp = _enable_totp(service, CURATOR_1)
    clock.now += 60
    with service.engine.connect() as conn:
        # What two concurrent sign-ins (on two replicas) both read before either used the code.
        row = conn.execute(sa.select(accounts).where(accounts.c.login == "curator-1")).one()
    code = totp.at(clock.now)
    assert service.check_otp(row, code)
    assert not service.check_otp(row, code)


def test_a_refresh_token_presented_twice_at_once_on_two_replicas_renews_one_session(
        service: AccountService, tmp_path: Path) -> None:
    other = AccountService(sa.create_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}"),
                           TEST_SECRET, service.settings, clock=service.clock,
                           secrets_dir=tmp_path / "secrets")
    session = service.login("curator-1", "очень-длинный-пароль", None, "10.0.0.1")
    together = threading.Barrier(2, timeout=2)
    waited = threading.local()

    def wait_once(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        # Each request pauses after its first statement on the refresh tokens until both got
        # there: a read-then-write lets both read "unused"; a conditional write holds the other
        # back (the pause then times out) and tells it the token is spent.
        if "registry_refresh_tokens" in statement and not getattr(waited, "done", False):
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait()

    results: list[str] = []

    def refresh(accounts_service: AccountService) -> None:
        try:
            accounts_service.refresh(session.refresh_token)
            results.append("renewed")
        except DomainError as exc:
            results.append(exc.code)

    for engine in (service.engine, other.engine):
        sa.event.listen(engine, "after_cursor_execute", wait_once)
    threads = [threading.Thread(target=refresh, args=(s,)) for s in (service, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["INVALID_REFRESH_TOKEN", "renewed"]


def test_totp_secret_is_not_readable_in_the_database_file(service: AccountService,
                                                          tmp_path: Path) -> None:
    actor = Actor(user="curator-1", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))
    secret = service.start_totp(actor)["secret"]
    service.confirm_totp(actor, pyotp.TOTP(secret).at(service.clock()))
    service.engine.dispose()
    database = (tmp_path / "accounts.sqlite").read_bytes()
    assert secret.encode() not in database
    with service.engine.connect() as conn:
        stored = conn.execute(sa.select(accounts.c.totp_secret)).scalar_one()
    assert stored.startswith("v1:")
    # Sealed for its own login: copied onto another account's row it opens nothing.
    service.create_account(REGIONAL, "curator-2", "очень-длинный-пароль", Role.CURATOR, "demo/m1/s1")
    with service.engine.begin() as conn:
        conn.execute(accounts.update().where(accounts.c.login == "curator-2")
                     .values(totp_secret=stored, totp_enabled=True))
    code = pyotp.TOTP(secret).at(service.clock() + 30)
    with pytest.raises(DomainError, match="INVALID_OTP"):
        service.login("curator-2", "очень-длинный-пароль", code, "10.0.0.1")


def test_only_a_regional_administrator_creates_accounts(service: AccountService) -> None:
    municipal = Actor(user="m", role=Role.MUNICIPAL, scope=OrgPath.parse("demo/m1"))
    with pytest.raises(DomainError, match="FORBIDDEN"):
        service.create_account(municipal, "x-user", "очень-длинный-пароль", Role.CURATOR, "demo/m1/s1")
    with pytest.raises(DomainError, match="FORBIDDEN"):
        service.create_account(REGIONAL, "x-user", "очень-длинный-пароль", Role.CURATOR, "north/m1")
    with pytest.raises(DomainError, match="FORBIDDEN"):
        service.create_account(REGIONAL, "x-user", "очень-длинный-пароль", Role.SYSTEM, "demo")
    with pytest.raises(DomainError, match="DUPLICATE_LOGIN"):
        service.create_account(REGIONAL, "curator-1", "очень-длинный-пароль", Role.CURATOR, "demo")


# --- over HTTP, with the demo accounts -------------------------------------------------------

@pytest.fixture
def api(tmp_path: Path, nats_server: EmbeddedNats) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", token_secret=TEST_SECRET, nats_url=nats_server.url)
    with TestClient(create_app(settings, [RegistryRuntime(settings)])) as client:
        yield client


def test_demo_accounts_sign_in_over_http(api: TestClient) -> None:
    response = api.post("/auth/login", json={"login": "municipal-berezovsky", "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["role"] == "municipal" and tokens["scope"] == "demo/m-berezovsky"
    me = api.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json() == {"user": "municipal-berezovsky", "role": "municipal", "scope": "demo/m-berezovsky",
                         "holder": None}
    refreshed = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert api.post("/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]}
                    ).status_code == 204
    bad = api.post("/auth/login", json={"login": "regional", "password": "не-тот-пароль"})
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_CREDENTIALS"
    assert "password" not in bad.text.lower() or "не-тот" not in bad.text


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    def scope(peer: str, *forwarded: str) -> dict[str, Any]:
        return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}

    proxies = ["10.0.0.0/8", "::1"]
    assert client_address(scope("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    assert client_address(scope("10.1.2.3", "198.51.100.1"), proxies) == "198.51.100.1"
    assert client_address(scope("::1", "198.51.100.1"), proxies) == "198.51.100.1"
    assert client_address(scope("10.1.2.3"), proxies) == "10.1.2.3"
    # What the client wrote itself stands left of what our proxies appended: it proves nothing.
    assert client_address(scope("10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9"), proxies) == "198.51.100.1"
    assert client_address(scope("10.1.2.3", "1.1.1.1", "198.51.100.1"), proxies) == "198.51.100.1"


def test_sign_in_throttle_ignores_forwarded_for_of_an_untrusted_peer(
        tmp_path: Path, nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_LOGIN_ADDRESS_ATTEMPTS", "2")
    settings = Settings(data_dir=tmp_path / "data", token_secret=TEST_SECRET, nats_url=nats_server.url,
                        trusted_proxies=["10.0.0.0/8"])
    app = create_app(settings, [RegistryRuntime(settings)])

    def attempt(client: TestClient, forwarded: str) -> str:
        response = client.post("/auth/login", json={"login": "nobody", "password": "не-тот-пароль"},
                               headers={"X-Forwarded-For": forwarded})
        return str(response.json()["code"])

    with TestClient(app, client=("203.0.113.9", 40000)) as outsider:
        # An invented address per request does not buy an outsider more attempts.
        codes = [attempt(outsider, f"198.51.100.{i}") for i in range(3)]
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "LOGIN_THROTTLED"]
        # Behind the trusted portal each user's address has an allowance of its own.
        portal = TestClient(app, client=("10.0.0.5", 40000))
        codes = [attempt(portal, address) for address in ("198.51.100.1", "198.51.100.1",
                                                          "198.51.100.2", "198.51.100.1")]
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS",
                         "LOGIN_THROTTLED"]


def test_in_embedded_mode_each_portal_user_has_a_sign_in_allowance_of_their_own(
        tmp_path: Path, nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch) -> None:
    """`nastavnik up`: the portal calls the API at 127.0.0.1 with each user's address in
    X-Forwarded-For and its proof header, as its login form does; a local process without the
    proof cannot choose its throttle address, loopback or not."""
    from services.bootstrap import embedded_settings

    monkeypatch.delenv("NASTAVNIK_TRUSTED_PROXIES", raising=False)
    monkeypatch.setenv("NASTAVNIK_LOGIN_ADDRESS_ATTEMPTS", "2")
    settings = embedded_settings(tmp_path / "data", token_secret=TEST_SECRET, nats_url=nats_server.url)
    app = create_app(settings, [RegistryRuntime(settings)])
    tried = iter(range(100))
    proof = {FORWARDED_BY_HEADER: forwarding_proof(settings.signing_secret)}

    def attempt(client: TestClient, forwarded: str, extra: dict[str, str] | None = None) -> str:
        # A login of its own each time: only the address throttle is at play, not the delays.
        response = client.post("/auth/login", json={"login": f"guess-{next(tried)}",
                                                    "password": "не-тот-пароль"},
                               headers={"X-Forwarded-For": forwarded, **(extra or {})})
        return str(response.json()["code"])

    with TestClient(app, client=("127.0.0.1", 40000)) as portal:
        codes = [attempt(portal, address, proof) for address in (
            "198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.1", "198.51.100.2")]
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS",
                         "LOGIN_THROTTLED", "INVALID_CREDENTIALS"]
        # A local process without the proof (or with a wrong one) is its own loopback address.
        local = TestClient(app, client=("127.0.0.1", 40001))
        codes = [attempt(local, f"198.51.100.{i}", {FORWARDED_BY_HEADER: "0" * 64} if i % 2 else None)
                 for i in range(20, 23)]
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "LOGIN_THROTTLED"]
        # Anyone else's forwarded addresses are still ignored.
        outsider = TestClient(app, client=("203.0.113.9", 40000))
        codes = [attempt(outsider, f"198.51.100.{i}") for i in range(10, 13)]
        assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "LOGIN_THROTTLED"]
    # A setting made on purpose, even an empty one, is kept.
    monkeypatch.setenv("NASTAVNIK_TRUSTED_PROXIES", "")
    assert embedded_settings(tmp_path / "data").trusted_proxies == []
    monkeypatch.setenv("NASTAVNIK_TRUSTED_PROXIES", "10.0.0.0/8")
    assert embedded_settings(tmp_path / "data").trusted_proxies == ["10.0.0.0/8"]


def test_security_headers_on_api_responses(api: TestClient) -> None:
    response = api.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers  # plain HTTP here
    https = TestClient(api.app, base_url="https://testserver")
    assert "max-age" in https.get("/health").headers["strict-transport-security"]


def test_rate_limit_answers_429(tmp_path: Path, nats_server: EmbeddedNats,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_API_REQUESTS_PER_MINUTE", "5")
    settings = Settings(data_dir=tmp_path / "data", token_secret=TEST_SECRET, nats_url=nats_server.url)
    with TestClient(create_app(settings, [RegistryRuntime(settings)])) as client:
        codes = [client.get("/registry/import-template?role=mentee").status_code for _ in range(7)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
        limited = client.get("/registry/import-template?role=mentee")
        assert limited.json()["code"] == "RATE_LIMITED" and int(limited.headers["retry-after"]) > 0
        assert limited.headers["x-content-type-options"] == "nosniff"
        assert client.get("/health").status_code == 200  # probes are never limited


# --- OIDC: RS256 tokens of a regional SSO, checked against its JWKS ---------------------------

@pytest.fixture
def sso(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "sso-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = "https://sso.region.example/realms/edu"
    monkeypatch.setenv("NASTAVNIK_OIDC_ISSUER", issuer)
    monkeypatch.setenv("NASTAVNIK_OIDC_AUDIENCE", "nastavnik")
    monkeypatch.setenv("NASTAVNIK_OIDC_JWKS_URL", f"http://127.0.0.1:{server.server_port}/jwks")
    try:
        yield {"key": key, "issuer": issuer}
    finally:
        server.shutdown()


def sso_token(sso: dict[str, Any], **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": sso["issuer"], "aud": "nastavnik", "sub": "8f1c", "iat": now, "exp": now + 300,
              "preferred_username": "ivanova", "nastavnik_role": "municipal",
              "nastavnik_scope": "demo/m1", **overrides}
    return jwt.encode(claims, sso["key"], algorithm="RS256", headers={"kid": "sso-1"})


def test_oidc_tokens_of_the_regional_sso(api: TestClient, sso: dict[str, Any]) -> None:
    def me(token: str) -> Any:
        return api.get("/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert me(sso_token(sso)).json() == {"user": "ivanova", "role": "municipal", "scope": "demo/m1",
                                         "holder": None}
    refused = {
        "wrong audience": sso_token(sso, aud="other-app"),
        "wrong issuer": sso_token(sso, iss="https://evil.example"),
        "expired": sso_token(sso, exp=int(time.time()) - 10),
        "no role": sso_token(sso, nastavnik_role=None),
        "system role": sso_token(sso, nastavnik_role="system"),
        "bad scope": sso_token(sso, nastavnik_scope="../../etc"),
        "foreign key": jwt.encode({"iss": sso["issuer"], "aud": "nastavnik", "sub": "x",
                                   "exp": int(time.time()) + 60, "nastavnik_role": "regional",
                                   "nastavnik_scope": "demo"},
                                  rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                  algorithm="RS256", headers={"kid": "sso-1"}),
    }
    for reason, token in refused.items():
        response = me(token)
        assert response.status_code == 401, (reason, response.text)
    # An HS256 token signed with the RSA public key (algorithm confusion) gets nowhere either.
    assert me(jwt.encode({"sub": "x", "role": "regional", "scope": "demo",
                          "exp": int(time.time()) + 60}, "not-our-secret-but-long-enough-32b",
                         algorithm="HS256")).status_code == 401
