"""The bell in the portal: the header loads the unread count, the page lists the user's
notifications and marks them read (one, or all), and the account page switches mail on or off —
each asked of the services with the signed-in user's token."""

from __future__ import annotations

from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest

API = "/monitoring/notifications"
ITEM = {"id": "00000000-0000-0000-0000-000000000301", "kind": "report_overdue",
        "title": "Отчёт просрочен — срок был 20.12.2025",
        "body": "Отчёт за 1-е полугодие 2025/26 учебного года не сдан: срок истёк 20.12.2025.",
        "path": "demo/m1/school-1", "link": "/reports", "created_at": "2025-12-21T06:00:00+00:00",
        "read": False}


def test_the_header_loads_the_bell_with_the_unread_count(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/auth/notifications", {"email": None, "email_enabled": True})
    page = portal.client().get("/account")
    assert 'hx-get="/notifications/bell"' in page.text and 'href="/notifications"' in page.text
    portal.api.on("GET", f"{API}/unread", {"unread": 3})
    bell = portal.client().get("/notifications/bell")
    assert bell.status_code == 200 and ">3</span>" in bell.text and "Уведомления" in bell.text
    portal.api.on("GET", f"{API}/unread", {"unread": 0})
    assert "count" not in portal.client().get("/notifications/bell").text


def test_the_page_lists_notifications_and_marks_them_read(portal: PortalUnderTest) -> None:
    portal.api.on("GET", API, {"items": [ITEM, {**ITEM, "id": ITEM["id"][:-1] + "2",
                                                "title": "Срок сдачи отчёта — 20.12.2025",
                                                "read": True}], "unread": 1})
    page = portal.client().get("/notifications")
    assert page.status_code == 200 and "Непрочитанных: 1." in page.text
    assert "Отчёт просрочен — срок был 20.12.2025" in page.text and "срок истёк 20.12.2025" in page.text
    assert "21.12.2025" in page.text  # when, in the region's date
    assert '<a href="/reports">Отчёт просрочен' in page.text  # leads where it is dealt with
    assert page.text.count("новое") == 1

    portal.api.on("POST", f"{API}/read", {"marked": 1})
    one = portal.client().post("/notifications/read", data={"notification_id": ITEM["id"]})
    assert one.status_code == 303 and one.headers["location"] == "/notifications"
    every = portal.client().post("/notifications/read")
    assert every.status_code == 303
    assert portal.api.sent("POST", f"{API}/read") == [{"ids": [ITEM["id"]]}, {"ids": None}]


def test_mail_is_switched_off_on_the_account_page(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/auth/notifications", {"email": "kurator@school-1.ru",
                                                 "email_enabled": True})
    page = portal.client().get("/account")
    assert "Уведомления по электронной почте" in page.text
    assert 'value="kurator@school-1.ru"' in page.text and "checked" in page.text
    portal.api.on("PUT", "/auth/notifications", {"email": "kurator@school-1.ru",
                                                 "email_enabled": False})
    done = portal.client().post("/account/notifications", data={"email": "kurator@school-1.ru"})
    assert done.status_code == 303 and done.headers["location"] == "/account?saved=mail"
    assert portal.api.sent("PUT", "/auth/notifications") == [
        {"email": "kurator@school-1.ru", "email_enabled": False}]


def test_a_late_report_is_reminded_from_the_reports_page(portal: PortalUnderTest) -> None:
    portal.api.on("POST", f"{API}/remind", {"reminded": True})
    done = portal.client(Role.MUNICIPAL, "demo/m1").post("/reports/remind", data={
        "report_id": "org:demo/m1/school-1:2025-12-20", "org": "demo/m1"})
    assert done.status_code == 303
    assert done.headers["location"] == "/reports?org=demo/m1&reminded=sent"
    assert portal.api.sent("POST", f"{API}/remind") == [
        {"report_id": "org:demo/m1/school-1:2025-12-20"}]
