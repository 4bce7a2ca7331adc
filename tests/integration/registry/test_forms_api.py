"""The region's catalogue of forms over HTTP: the regional operator narrows it, every user of the
region reads it, a programme of a form the region does not offer is refused in Russian, and the
change reaches the bus as ``FormsCatalogueConfigured``."""

from __future__ import annotations

from shared.auth import Role
from tests.integration.registry.conftest import Registry, School
from tests.integration.registry.test_registry_api import CURATOR_A, wait_published


def test_the_region_offers_only_the_forms_it_enables(registry: Registry, schools: School) -> None:
    curator = registry.headers(Role.CURATOR, CURATOR_A)
    refused = registry.client.put("/registry/forms", json={"enabled": ["student-student"]}, headers=curator)
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    none = registry.client.put("/registry/forms", json={"enabled": []},
                               headers=registry.headers(Role.REGIONAL, "demo"))
    assert none.status_code == 422 and none.json()["code"] == "FORMS_NONE_ENABLED"
    saved = registry.client.put("/registry/forms", headers=registry.headers(Role.REGIONAL, "demo"), json={
        "enabled": ["student-student"], "descriptions": {"student-student": "Для 5–11 классов"}})
    assert saved.status_code == 200
    forms = {f["code"]: f for f in registry.client.get("/registry/forms", headers=curator).json()["forms"]}
    assert forms["student-student"]["enabled"]
    assert forms["student-student"]["description"] == "Для 5–11 классов"
    assert not forms["teacher-student"]["enabled"]
    programme = {"organisation_id": schools.school_id, "school_year": "2025-2026", "curator": "Волкова"}
    disabled = registry.client.post("/registry/programmes", json={**programme, "form": "учитель – ученик"},
                                    headers=curator)
    assert disabled.status_code == 422 and disabled.json()["code"] == "FORM_DISABLED"
    assert disabled.json()["message"] == "Форма «Учитель – ученик» не предлагается в регионе"
    assert registry.client.post("/registry/programmes", json={**programme, "form": "Ученик – ученик"},
                                headers=curator).status_code == 201
    assert "FormsCatalogueConfigured" in [e.type for e in wait_published(registry)]
