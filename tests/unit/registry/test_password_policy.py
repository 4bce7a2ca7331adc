"""The rule a new password meets: length, zxcvbn strength, not on the list of common passwords."""

from __future__ import annotations

import pytest

from services.portal.auth import DEMO_PASSWORD as PORTAL_DEMO_PASSWORD
from services.portal.auth import DEMO_TOTP_SECRETS as PORTAL_DEMO_SECRETS
from services.registry.accounts import DEMO_PASSWORD, DEMO_TOTP_SECRETS, demo_accounts
from services.registry.password_policy import check_new_password, common_passwords, is_common
from shared.errors import DomainError


def refusal(password: str, *user_inputs: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_new_password(password, user_inputs)
    assert caught.value.status == 422
    # The user is told why and what to do instead, in Russian.
    assert "фразу из трёх-четырёх" in caught.value.message
    return caught.value


def test_a_short_password_is_refused_with_the_length_in_the_message() -> None:
    error = refusal("Ab3$xyz")
    assert error.code == "PASSWORD_TOO_SHORT" and "от 10" in error.message


@pytest.mark.parametrize("password", ["password12", "Password123", "qwerty123456", "iloveyou2024",
                                      "Пароль2024!", "1q2w3e4r5t6y", "zaq12wsx!!", "солнышко2010"])
def test_common_and_breached_passwords_are_refused(password: str) -> None:
    assert refusal(password).code == "PASSWORD_BREACHED"


@pytest.mark.parametrize("password", ["йцукенгшщз", "йцукен123456", "фывапролдж", "ЯЧСМИТЬБЮ12",
                                      # the same keys typed in the other layout
                                      "gfhjkm123456", "ghbdtn2024!!"])
def test_russian_keyboard_runs_and_words_typed_in_either_layout_are_refused(password: str) -> None:
    assert refusal(password).code in ("PASSWORD_BREACHED", "PASSWORD_TOO_WEAK")


def test_a_password_made_of_the_login_is_too_weak() -> None:
    error = refusal("ivanov-school-12", "ivanov-school-12")
    assert error.code in ("PASSWORD_TOO_WEAK", "PASSWORD_BREACHED")
    assert refusal("zxcvbnmasdfgh").code == "PASSWORD_TOO_WEAK"  # a keyboard run zxcvbn sees


@pytest.mark.parametrize("password", ["окно-лимон-трамвай-сорок", "correct-horse-battery",
                                      "Лето-Кофе-Маяк-17", "tundra voltage pepper ink"])
def test_a_good_passphrase_passes(password: str) -> None:
    check_new_password(password, ["curator-school-1"])


def test_the_demo_password_passes_the_rule_it_is_published_under() -> None:
    # The portal publishes what the registry seeds (it may not import the registry).
    assert (DEMO_PASSWORD, DEMO_TOTP_SECRETS) == (PORTAL_DEMO_PASSWORD, PORTAL_DEMO_SECRETS)
    for login, *_ in demo_accounts("demo"):
        check_new_password(DEMO_PASSWORD, [login])


def test_the_bundled_list_is_the_common_passwords_in_both_layouts() -> None:
    listed = common_passwords()
    assert len(listed) > 30_000
    assert {"123456", "password", "qwerty", "пароль", "gfhjkm", "йцукен"} <= listed
    assert is_common("  PASSWORD  ") and not is_common("окно-лимон-трамвай-сорок")
