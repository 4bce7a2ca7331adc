"""The portal's forms: validation errors name fields in Russian; long operations show progress."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant

from services.portal.frame import FIELD_TITLES, invalid_fields
from services.portal.routes import router
from services.portal.survey_status import Expected
from services.portal.templating import order_phrase, templates
from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest

TEMPLATES = Path(__file__).resolve().parents[3] / "services" / "portal" / "templates"
SCHOOL = {"id": "00000000-0000-0000-0000-00000000000a", "path": "demo/m1/school-1", "name": "Школа № 1",
          "kind": "school", "parent_id": "00000000-0000-0000-0000-00000000000b"}
MUNICIPALITY = {"id": SCHOOL["parent_id"], "path": "demo/m1", "name": "Первый округ",
                "kind": "municipality", "parent_id": None}


def parameters(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.body_params + dependant.query_params + dependant.path_params}
    for sub in dependant.dependencies:
        names |= parameters(sub)
    return names


def test_every_parameter_of_every_page_has_a_russian_title() -> None:
    names = set().union(*(parameters(r.dependant) for r in router.routes if hasattr(r, "dependant")))
    assert {"signatory_name", "as_of", "evidence_document_id"} <= names
    assert sorted(names - FIELD_TITLES.keys()) == []
    assert all(re.search("[а-яё]", title, re.IGNORECASE) for title in FIELD_TITLES.values())


def test_the_fields_of_a_validation_error_are_named_by_their_labels() -> None:
    errors = [{"loc": ("body", "signatory_name"), "msg": "too short"},
              {"loc": ("body", "school_year"), "msg": "pattern"},
              {"loc": ("body", "signatory_name"), "msg": "again"},
              {"loc": ("body", "group", 0), "msg": "bad item"},
              {"loc": ("query", "as_of"), "msg": "pattern"},
              {"loc": ("body",), "msg": "missing"},
              {"loc": ("body", "unheard_of"), "msg": "x"}]
    assert invalid_fields(errors) == "ФИО подписывающего, Учебный год, Пары для утверждения, Дата"
    assert invalid_fields([{"loc": ("body", "unheard_of")}]) == ""


def test_a_refused_form_shows_russian_field_names_not_internal_ones(portal: PortalUnderTest) -> None:
    page = portal.client().post(f"/organisations/{SCHOOL['id']}/pairs-order",
                                data={"school_year": "2025", "signatory_position": "Директор",
                                      "signatory_name": "И"})
    assert page.status_code == 422
    assert "Проверьте заполнение полей: Учебный год, ФИО подписывающего" in page.text
    assert "signatory_name" not in page.text and "school_year" not in page.text
    # refused before any service is asked (the header's name of the user's school aside)
    assert [c.url.path for c in portal.api.calls] == ["/registry/organisations"]

    dashboard = portal.client(Role.AUDITOR, "demo").get("/dashboard", params={"as_of": "вчера"})
    assert dashboard.status_code == 422 and "Проверьте заполнение полей: Дата" in dashboard.text


# --- progress on long operations ----------------------------------------------------------------

def test_every_htmx_indicator_points_at_an_indicator_of_its_template() -> None:
    """hx-indicator="#x" needs an element id="x" of class htmx-indicator (portal.css shows it while
    the request runs); the long forms all have one."""
    found = {}
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for target in re.findall(r'hx-indicator="#([^"]+)"', text):
            pattern = re.escape(target).replace(r"\{\{\ key\ \}\}", ".*")
            assert re.search(rf'id="{pattern}" class="htmx-indicator"', text), (template.name, target)
            found.setdefault(template.name, []).append(target)
    for name in ("import.html", "_report_form.html", "auditor.html", "_roadmap.html", "roadmap.html"):
        assert name in found, name
    auditor = (TEMPLATES / "auditor.html").read_text()
    as_of_form = auditor[auditor.index('action="/dashboard"') - 40:auditor.index("</form>", auditor.index(
        'action="/dashboard"'))]
    assert 'hx-boost="true"' in as_of_form and 'hx-indicator="#asof-progress"' in as_of_form
    css = (TEMPLATES.parent / "static" / "portal.css").read_text()
    assert ".htmx-indicator { display: none; }" in css and ".htmx-request .htmx-indicator" in css


DRAFT = {"id": "00000000-0000-0000-0000-0000000000d1", "report_id": "org-2026-H1", "path": SCHOOL["path"],
         "level": "organisation", "period": "2026-H1", "deadline": "2026-07-01", "status": "draft",
         "document_id": None}
FORM = {"organisation_name": "Школа № 1", "territory": "Первый округ", "position": "Директор",
        "full_name": "Смирнова Ирина Петровна", "conclusions": "Вывод"}


def test_the_report_is_submitted_with_progress_and_htmx_gets_the_form_or_the_redirect(
        portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/documents/reports", [DRAFT])
    portal.api.on("GET", "/registry/organisations", [SCHOOL, MUNICIPALITY])
    page = portal.client().get(f"/reports/{DRAFT['id']}/submit")
    assert page.status_code == 200
    assert f'hx-post="/reports/{DRAFT["id"]}/submit"' in page.text and 'id="report-progress"' in page.text

    submit = f"/documents/reports/{DRAFT['id']}/submit"
    portal.api.on("POST", submit, {"code": "VALIDATION_ERROR", "message": "Проверьте поля отчёта",
                                   "details": [{"field": "signatory.full_name",
                                                "message": "Слишком короткое ФИО"}]}, status=422)
    htmx = {"HX-Request": "true"}
    refused = portal.client().post(f"/reports/{DRAFT['id']}/submit", data=FORM, headers=htmx)
    assert refused.status_code == 422
    assert '<div id="report-form">' in refused.text
    assert "<html" not in refused.text and "Слишком короткое ФИО" in refused.text
    assert 'aria-invalid="true"' in refused.text and "Смирнова Ирина Петровна" in refused.text

    portal.api.on("POST", submit, {"document": {"number": "17"}})
    done = portal.client().post(f"/reports/{DRAFT['id']}/submit", data=FORM, headers=htmx)
    assert done.status_code == 204
    assert done.headers["HX-Redirect"] == f"/organisations/{SCHOOL['id']}/reports?submitted=17"
    plain = portal.client().post(f"/reports/{DRAFT['id']}/submit", data=FORM)
    assert plain.status_code == 303 and plain.headers["location"].endswith("submitted=17")


def test_pages_with_names_are_never_kept_in_the_browsers_history_cache() -> None:
    """htmx would copy each page it navigates (lists of pupils) into sessionStorage."""
    text = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    config = json.loads(re.search(r'name="htmx-config" content=\'([^\']+)\'', text).group(1))  # type: ignore[union-attr]
    assert config["historyCacheSize"] == 0


@pytest.mark.parametrize(("typed", "shown"), [
    ("36-н", "приказ 36-н"),
    ("№ 15-о от 01.10.2025", "приказ № 15-о от 01.10.2025"),
    ("Приказ № 36-н от 24.09.2025", "Приказ № 36-н от 24.09.2025"),
    (" приказ 7 ", "приказ 7"),
])
def test_a_pairs_order_is_named_once_however_it_was_typed(typed: str, shown: str) -> None:
    assert order_phrase(typed) == shown


def test_every_page_has_the_portals_icon(portal: PortalUnderTest) -> None:
    """A browser asks for the tab's icon with every page: it is served, not a 404."""
    page = portal.client().get("/login").text
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page)
    assert icon is not None
    served = portal.client().get(icon.group(1))
    assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"
    assert served.text.startswith("<svg")


def test_a_questionnaire_of_a_pairs_end_is_not_offered_before_it() -> None:
    """«после завершения работы пары» with a «Заполнить» beside it contradicted itself."""
    questionnaire = {"code": "quality-mentor", "title": "Оценка качества"}
    rows = [Expected(questionnaire, "quality", "mentor", "m1", "Ёлкин А. С.", "p1", due=False),
            Expected(questionnaire, "growth_entry", "mentor", "m1", "Ёлкин А. С.", "p1", due=True)]
    html = templates.env.get_template("_survey_rows.html").render(rows=rows, writer=True)
    later, now = html.split("<tr data-survey=")[1:]
    assert "после завершения работы пары" in later and "Заполнить" not in later
    assert "не заполнена" in now and ">Заполнить<" in now
