"""The region's catalogue of forms of mentorship in the portal: the region's operator enables
forms and describes them; everyone else reads only the offered ones."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest


def catalogue(**enabled: bool) -> dict[str, Any]:
    titles = {"student-student": "Ученик – ученик", "teacher-teacher": "Учитель – учитель"}
    return {"region": "demo", "configured": True, "forms": [
        {"code": code, "title": title, "enabled": enabled.get(code.replace("-", "_"), True),
         "description": "Старшеклассники помогают младшим" if code == "student-student" else ""}
        for code, title in titles.items()]}


def test_the_region_enables_forms_and_describes_them(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/forms", catalogue(teacher_teacher=False))
    portal.api.on("PUT", "/registry/forms", catalogue())
    region = portal.client(Role.REGIONAL, "demo")
    page = region.get("/forms")
    assert page.status_code == 200 and "Формы наставничества региона" in page.text
    assert 'href="/forms"' in page.text and "Сохранить каталог" in page.text  # in the menu, editable
    assert 'name="enabled-student-student" value="1" checked' in page.text
    assert 'name="enabled-teacher-teacher" value="1" >' in page.text
    saved = region.post("/forms", data={"enabled-teacher-teacher": "1",
                                        "description-teacher-teacher": "Для всех школ"})
    assert saved.headers["location"] == "/forms?saved=1"
    assert portal.api.sent("PUT", "/registry/forms") == [{
        "enabled": ["teacher-teacher"],
        "descriptions": {"student-student": "", "teacher-teacher": "Для всех школ"}}]


def test_a_refusal_keeps_what_the_region_chose(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/forms", catalogue())
    portal.api.on("PUT", "/registry/forms", {
        "code": "FORMS_NONE_ENABLED",
        "message": "В регионе должна остаться хотя бы одна форма наставничества"},
        status=422)
    refused = portal.client(Role.REGIONAL, "demo").post("/forms", data={
        "description-student-student": "Новое описание"})
    assert refused.status_code == 422 and "хотя бы одна форма наставничества" in refused.text
    assert "Новое описание" in refused.text and "checked" not in refused.text


def test_others_read_only_the_offered_forms(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/forms", catalogue(teacher_teacher=False))
    page = portal.client(Role.CURATOR, "demo/m1/school-1").get("/forms").text
    assert "Ученик – ученик" in page and "Старшеклассники помогают младшим" in page
    assert "Учитель – учитель" not in page and "Сохранить каталог" not in page
    assert 'href="/forms"' not in page  # the menu entry is the region's
