"""The region's catalogue of forms of mentorship, kept on the region's own organisation
(``FormsCatalogueConfigured``): the regional operator chooses which of the methodology's forms
the region offers; every signed-in user of the region reads it; a programme runs only an
offered form. A region that never configured it offers every form of the methodology.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from services.registry import views
from services.registry.commands import ConfigureForms
from services.registry.domain import Organisation
from shared.auth import Actor, OrgPath, require_forms_configurer
from shared.errors import not_found
from shared.mentorship_forms import METHODOLOGY_FORMS, check_offered
from shared.store import CommandContext

if TYPE_CHECKING:
    from services.registry.application import RegistryService


def _region(registry: RegistryService, region: str) -> Organisation:
    with registry.engine.connect() as conn:
        region_id = conn.execute(sa.select(views.organisations.c.id).where(
            views.organisations.c.kind == "region", views.organisations.c.region == region)).scalar()
    if region_id is None:
        raise not_found("Регион", "REGION_NOT_FOUND")
    return registry.events.repository.get(region_id)


def catalogue(registry: RegistryService, actor: Actor) -> dict[str, Any]:
    configured = _region(registry, actor.scope.region).forms
    enabled = set(configured["enabled"]) if configured else set(METHODOLOGY_FORMS)
    descriptions = configured["descriptions"] if configured else {}
    return {"region": actor.scope.region, "configured": configured is not None,
            "forms": [{"code": code, "title": title, "enabled": code in enabled,
                       "description": descriptions.get(code, "")}
                      for code, title in METHODOLOGY_FORMS.items()]}


def configure(registry: RegistryService, ctx: CommandContext, cmd: ConfigureForms) -> dict[str, Any]:
    region = ctx.actor.scope.region
    require_forms_configurer(ctx.actor, region)
    descriptions = {code: text.strip() for code, text in cmd.descriptions.items() if text.strip()}

    def attempt() -> None:
        organisation = _region(registry, region)
        organisation.configure_forms(cmd.enabled, descriptions, meta=ctx.meta(OrgPath(region=region)))
        registry._save(organisation)
    registry.retrying(attempt)
    return catalogue(registry, ctx.actor)


def check_programme_form(registry: RegistryService, region: str, form: str) -> None:
    configured = _region(registry, region).forms
    check_offered(form, frozenset(configured["enabled"] if configured else METHODOLOGY_FORMS))
