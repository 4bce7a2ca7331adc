"""The second factor over HTTP: required of regional and auditor accounts, a code is good once,
wrong codes are failed sign-ins (delays, security events), recovery codes, first set-up.

The demo accounts have the published secrets (``DEMO_TOTP_SECRETS``); a test computes the code
the way the user's app does (pyotp).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from services.registry.accounts import DEMO_PASSWORD, DEMO_TOTP_SECRETS
from services.registry.runtime import RegistryRuntime
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import TEST_SECRET
from tests.sign_in_codes import demo_code

REGIONAL = DEMO_TOTP_SECRETS["regional"]


@pytest.fixture
def api(tmp_path: Path, nats_server: EmbeddedNats) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", token_secret=TEST_SECRET,
                        nats_url=nats_server.url, login_max_failures=3)
    with TestClient(create_app(settings, [RegistryRuntime(settings)])) as client:
        yield client


def password_step(api: TestClient, login: str = "regional", password: str = DEMO_PASSWORD) -> Any:
    return api.post("/auth/login", json={"login": login, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_regional_password_alone_gives_no_token_only_a_challenge(api: TestClient) -> None:
    answer = password_step(api)
    assert answer.status_code == 401 and answer.json()["code"] == "MFA_REQUIRED"
    assert "access_token" not in answer.text and "код" in answer.json()["message"]
    challenge = answer.json()["details"][0]["challenge"]
    # The challenge proves the password, nothing more: no service takes it as a token.
    assert api.get("/auth/me", headers=bearer(challenge)).status_code == 401
    # Nor does a code alone, without the challenge of a right password.
    assert api.post("/auth/mfa", json={"challenge": "x", "otp": demo_code("regional", "x")}
                    ).json()["code"] == "SIGN_IN_STEP_EXPIRED"


def test_a_wrong_code_is_refused_and_logged_as_a_failed_sign_in(api: TestClient) -> None:
    challenge = password_step(api).json()["details"][0]["challenge"]
    with capture_logs() as logs:
        refused = api.post("/auth/mfa", json={"challenge": challenge,
                                              "otp": wrong(pyotp.TOTP(REGIONAL).now())})
    assert refused.status_code == 401 and refused.json()["code"] == "INVALID_OTP"
    failed = [e for e in logs if e["event"] == "security.login_failed"]
    assert [(e["reason"], e["target"]) for e in failed] == [("INVALID_OTP", "regional")]
    assert REGIONAL not in str(logs) and challenge not in str(logs)


def test_the_right_code_signs_in_once_and_its_replay_is_refused(api: TestClient) -> None:
    place = "replay"
    challenge = password_step(api).json()["details"][0]["challenge"]
    code = demo_code("regional", place)
    signed = api.post("/auth/mfa", json={"challenge": challenge, "otp": code})
    assert signed.status_code == 200, signed.text
    assert api.get("/auth/me", headers=bearer(signed.json()["access_token"])).json()["role"] == "regional"
    # The same code again (shoulder-surfed, or sent twice), with a new right password: refused.
    again = password_step(api).json()["details"][0]["challenge"]
    replayed = api.post("/auth/mfa", json={"challenge": again, "otp": code})
    assert replayed.status_code == 401 and replayed.json()["code"] == "INVALID_OTP"
    # A used challenge gives no second session, even with a fresh code.
    reused = api.post("/auth/mfa", json={"challenge": challenge, "otp": demo_code("regional", place)})
    assert reused.status_code == 401 and reused.json()["code"] == "SIGN_IN_STEP_EXPIRED"
    # In one step (password and code together), as API clients may sign in.
    one_step = api.post("/auth/login", json={"login": "auditor", "password": DEMO_PASSWORD,
                                             "otp": demo_code("auditor", place)})
    assert one_step.status_code == 200 and one_step.json()["role"] == "auditor"


def test_wrong_codes_meet_the_same_progressive_delays(api: TestClient) -> None:
    challenge = password_step(api).json()["details"][0]["challenge"]
    bad = wrong(pyotp.TOTP(REGIONAL).now())
    codes = [api.post("/auth/mfa", json={"challenge": challenge, "otp": bad}).json()["code"]
             for _ in range(4)]
    assert codes == ["INVALID_OTP"] * 3 + ["LOGIN_DELAYED"]


def test_curators_and_municipalities_are_not_asked_for_a_code(api: TestClient) -> None:
    for login in ("curator-school-1", "municipal-berezovsky"):
        answer = password_step(api, login)
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] in ("curator", "municipal")


def test_a_new_auditor_sets_the_factor_up_before_anything_else(api: TestClient) -> None:
    regional = api.post("/auth/login", json={"login": "regional", "password": DEMO_PASSWORD,
                                             "otp": demo_code("regional", "enrol")}).json()
    created = api.post("/auth/accounts", headers=bearer(regional["access_token"]), json={
        "login": "auditor-2", "password": "окно-лимон-трамвай-сорок", "role": "auditor",
        "scope": "demo"})
    assert created.status_code == 201, created.text
    answer = password_step(api, "auditor-2", "окно-лимон-трамвай-сорок")
    assert answer.status_code == 403 and answer.json()["code"] == "MFA_ENROLMENT_REQUIRED"
    enrolment = answer.json()["details"][0]["enrolment_token"]
    # The enrolment token opens the set-up and nothing else.
    assert api.get("/auth/me", headers=bearer(enrolment)).status_code == 401
    assert api.get("/registry/organisations", headers=bearer(enrolment)).status_code == 401
    setup = api.post("/auth/totp/setup", headers=bearer(enrolment)).json()
    assert setup["uri"].startswith("otpauth://totp/") and "auditor-2" in setup["uri"]
    totp = pyotp.TOTP(setup["secret"])
    confirmed = api.post("/auth/totp/confirm", headers=bearer(enrolment), json={"otp": totp.now()})
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    session = confirmed.json()["session"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert api.get("/auth/me", headers=bearer(session["access_token"])).json()["role"] == "auditor"
    # From now on the password asks for a code; a recovery code stands in for it, once.
    challenge = password_step(api, "auditor-2", "окно-лимон-трамвай-сорок").json()["details"][0]
    used = api.post("/auth/mfa", json={"challenge": challenge["challenge"], "otp": recovery[0]})
    assert used.status_code == 200, used.text
    challenge = password_step(api, "auditor-2", "окно-лимон-трамвай-сорок").json()["details"][0]
    spent = api.post("/auth/mfa", json={"challenge": challenge["challenge"],
                                        "otp": recovery[0].upper().replace("-", " ")})
    assert spent.json()["code"] == "INVALID_OTP"


def test_a_weak_or_breached_password_is_refused_when_an_account_is_created(api: TestClient) -> None:
    regional = api.post("/auth/login", json={"login": "regional", "password": DEMO_PASSWORD,
                                             "otp": demo_code("regional", "weak")}).json()
    for password, code in (("пароль", "PASSWORD_TOO_SHORT"), ("password12", "PASSWORD_BREACHED"),
                           ("йцукен123456", "PASSWORD_BREACHED"), ("curator-77-curator", None)):
        answer = api.post("/auth/accounts", headers=bearer(regional["access_token"]), json={
            "login": "curator-77", "password": password, "role": "curator",
            "scope": "demo/m-berezovsky/school-1"})
        if code is None:
            assert answer.json()["code"] in ("PASSWORD_TOO_WEAK", "PASSWORD_BREACHED")
        else:
            assert answer.json()["code"] == code
        assert answer.status_code == 422 and "Возьмите фразу" in answer.json()["message"]


def test_a_new_password_of_ones_own_meets_the_policy_and_needs_the_current_one(
        api: TestClient) -> None:
    curator = password_step(api, "curator-school-2").json()
    own = bearer(curator["access_token"])
    change = {"current_password": DEMO_PASSWORD, "new_password": "qwerty123456"}
    assert api.post("/auth/password", headers=own, json=change).json()["code"] == "PASSWORD_BREACHED"
    wrong_current = {"current_password": "не-тот-пароль", "new_password": "Лето-Кофе-Маяк-17"}
    refused = api.post("/auth/password", headers=own, json=wrong_current)
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_CREDENTIALS"
    good = {"current_password": DEMO_PASSWORD, "new_password": "Лето-Кофе-Маяк-17"}
    assert api.post("/auth/password", headers=own, json=good).status_code == 204
    assert password_step(api, "curator-school-2").status_code == 401
    assert password_step(api, "curator-school-2", "Лето-Кофе-Маяк-17").status_code == 200
