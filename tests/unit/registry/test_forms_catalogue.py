"""The region's catalogue of forms of mentorship: the rule (a subset of the methodology's forms,
at least one), the policy (the regional operator changes it, everyone of the region reads it)
and a programme refused for a form the region does not offer."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry import forms
from services.registry.application import RegistryService
from services.registry.commands import ConfigureForms, LaunchProgramme
from shared.auth import OrgPath, Role, require_forms_configurer
from shared.errors import DomainError
from shared.mentorship_forms import check_catalogue, check_offered, form_code
from tests.unit.registry.conftest import MUNICIPALITY, REGION, SCHOOL_A, Region, acting

OPERATOR = acting(Role.REGIONAL, OrgPath(region=REGION))


def refused(code: str, call: Any, *args: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        call(*args)
    assert info.value.code == code, info.value
    return info.value


def test_a_catalogue_is_a_subset_of_the_methodology_with_at_least_one_form() -> None:
    check_catalogue(["student-student"], {"student-student": "Для 5–11 классов"})
    assert refused("FORMS_NONE_ENABLED", check_catalogue, [], {}).status == 422
    refused("FORM_UNKNOWN", check_catalogue, ["invented-form"], {})
    refused("FORM_DESCRIPTION_TOO_LONG", check_catalogue, ["student-student"],
            {"student-student": "я" * 1001})


def test_a_form_is_offered_by_its_code_or_its_title() -> None:
    assert form_code("Ученик – ученик") == form_code("student-student") == "student-student"
    check_offered("Ученик – ученик", frozenset({"student-student"}))
    error = refused("FORM_DISABLED", check_offered, "teacher-peer", frozenset({"student-student"}))
    assert error.status == 422 and "не предлагается в регионе" in error.message
    refused("FORM_UNKNOWN", check_offered, "Кружок по интересам", frozenset({"student-student"}))


@pytest.mark.parametrize(("role", "scope", "allowed"), [
    (Role.REGIONAL, "r", True), (Role.SYSTEM, "r", True), (Role.REGIONAL, "other", False),
    (Role.MUNICIPAL, "r/m", False), (Role.CURATOR, "r/m/school-a", False), (Role.AUDITOR, "r", False),
])
def test_only_the_regional_operator_configures_the_catalogue(role: Role, scope: str, allowed: bool) -> None:
    actor = acting(role, OrgPath.parse(scope)).actor
    if allowed:
        require_forms_configurer(actor, "r")
    else:
        assert refused("FORBIDDEN", require_forms_configurer, actor, "r").status == 403


def test_the_region_narrows_the_forms_and_programmes_follow(registry: RegistryService,
                                                            region: Region) -> None:
    curator = acting(Role.CURATOR, SCHOOL_A)
    assert all(f["enabled"] for f in forms.catalogue(registry, curator.actor)["forms"])
    refused("FORBIDDEN", forms.configure, registry, acting(Role.MUNICIPAL, MUNICIPALITY),
            ConfigureForms(enabled=["student-student"]))
    refused("FORMS_NONE_ENABLED", forms.configure, registry, OPERATOR, ConfigureForms(enabled=[]))
    forms.configure(registry, OPERATOR, ConfigureForms(
        enabled=["student-student", "teacher-teacher"],
        descriptions={"student-student": " Для 5–11 классов "}))
    read = {f["code"]: f for f in forms.catalogue(registry, curator.actor)["forms"]}
    assert read["student-student"] == {"code": "student-student", "title": "Ученик – ученик",
                                       "enabled": True, "description": "Для 5–11 классов"}
    assert read["teacher-peer"]["enabled"] is False
    school = region.ids[SCHOOL_A]
    launch = LaunchProgramme(organisation_id=school, form="Педагог – педагог (равный – равному)",
                             school_year="2025-2026", curator="Волкова")
    assert refused("FORM_DISABLED", registry.launch_programme, curator, launch).status == 422
    registry.launch_programme(curator, launch.model_copy(update={"form": "Ученик – ученик"}))
    assert [p["form"] for p in registry.list_programmes(curator.actor, school)] == ["Ученик – ученик"]
