"""One's own account in the portal: a new password and a new set of recovery codes, each asked
of the registry with the signed-in user's token, behind the portal's CSRF check."""

from __future__ import annotations

from tests.unit.portal.conftest import PortalUnderTest

PASSWORDS = {"current_password": "старый-пароль-1", "new_password": "Новый-длинный-пароль-7",
             "repeat_password": "Новый-длинный-пароль-7"}


def test_the_account_page_offers_both_forms_from_the_header(portal: PortalUnderTest) -> None:
    page = portal.client().get("/account")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'href="/account"' in page.text  # in the header, beside «Выйти»
    assert 'action="/account/password"' in page.text and "Сменить пароль" in page.text
    assert 'action="/account/recovery-codes"' in page.text and "Выпустить новые коды" in page.text
    signed_out = portal.client(role=None).get("/account")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/account"


def test_a_password_is_changed_by_the_registry_for_the_current_one(portal: PortalUnderTest) -> None:
    portal.api.on("POST", "/auth/password", None, status=204)
    done = portal.client().post("/account/password", data=PASSWORDS)
    assert done.status_code == 303 and done.headers["location"] == "/account?saved=password"
    sent = portal.api.calls[-1]
    assert sent.headers["Authorization"].startswith("Bearer ")  # as the signed-in user
    assert portal.api.sent("POST", "/auth/password") == [
        {"current_password": "старый-пароль-1", "new_password": "Новый-длинный-пароль-7"}]
    assert "Пароль изменён" in portal.client().get("/account?saved=password").text

    portal.api.on("POST", "/auth/password", {"code": "INVALID_CREDENTIALS", "status": 422,
                                             "message": "Текущий пароль указан неверно"}, status=422)
    refused = portal.client().post("/account/password", data=PASSWORDS)
    assert refused.status_code == 422 and "Текущий пароль указан неверно" in refused.text
    assert "старый-пароль-1" not in refused.text  # passwords are never echoed back


def test_a_mistyped_repeat_is_refused_before_the_registry_is_asked(portal: PortalUnderTest) -> None:
    page = portal.client().post("/account/password", data={**PASSWORDS, "repeat_password": "другой"})
    assert page.status_code == 422 and "Новый пароль и повтор не совпадают" in page.text
    assert portal.api.sent("POST", "/auth/password") == []


def test_new_recovery_codes_are_shown_once_for_a_current_code(portal: PortalUnderTest) -> None:
    codes = ["aaaa-bbbb", "cccc-dddd"]
    portal.api.on("POST", "/auth/totp/recovery-codes", {"recovery_codes": codes})
    page = portal.client().post("/account/recovery-codes", data={"otp": " 123456 "})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert all(f"<code>{code}</code>" in page.text for code in codes)
    assert "прежние больше не действуют" in page.text
    assert portal.api.sent("POST", "/auth/totp/recovery-codes") == [{"otp": "123456"}]

    portal.api.on("POST", "/auth/totp/recovery-codes", {
        "code": "INVALID_OTP", "status": 422, "message": "Неверный или уже использованный код"}, status=422)
    refused = portal.client().post("/account/recovery-codes", data={"otp": "000000"})
    assert refused.status_code == 422 and "Неверный или уже использованный код" in refused.text


def test_the_account_forms_refuse_another_sites_origin(portal: PortalUnderTest) -> None:
    portal.api.on("POST", "/auth/password", None, status=204)
    portal.api.on("POST", "/auth/totp/recovery-codes", {"recovery_codes": ["x"]})
    for path, data in (("/account/password", PASSWORDS), ("/account/recovery-codes", {"otp": "123456"})):
        forged = portal.client().post(path, data=data, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403, path
    assert portal.api.sent("POST", "/auth/password") == []
    assert portal.api.sent("POST", "/auth/totp/recovery-codes") == []
