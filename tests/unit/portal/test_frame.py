"""The portal's frame: the menu and start page per role come from navigation.py alone, and the
map of the portal (its package docstring, each page module's URLs) matches its routes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

import services.portal
from services.portal import navigation
from services.portal.routes import PAGE_GROUPS, router
from shared.auth import Actor, OrgPath, Role
from tests.unit.portal.conftest import PortalUnderTest

PORTAL = Path(services.portal.__file__).parent
SCHOOL = {"id": "00000000-0000-0000-0000-00000000000a", "path": "demo/m1/school-1", "name": "Школа № 1",
          "kind": "school", "parent_id": "00000000-0000-0000-0000-00000000000b"}
MENUS = {
    Role.CURATOR: ["/", "/bases", "/surveys", "/dashboard", "/reports", "/practices", "/nominations",
                   "/training"],
    Role.MUNICIPAL: ["/dashboard", "/reports", "/roadmap", "/territory/documents", "/practices",
                     "/nominations", "/training"],
    Role.REGIONAL: ["/dashboard", "/reports", "/auditor", "/roadmap", "/territory/documents",
                    "/practices", "/nominations", "/training", "/forms"],
    Role.AUDITOR: ["/dashboard", "/reports", "/auditor", "/territory/documents", "/practices",
                   "/nominations"],
    Role.PARTICIPANT: ["/my", "/training"],
}
SCOPES = {Role.CURATOR: SCHOOL["path"], Role.MUNICIPAL: "demo/m1"}


def actor(role: Role) -> Actor:
    return Actor(user="unit", role=role, scope=OrgPath.parse(SCOPES.get(role, "demo")))


@pytest.mark.parametrize("role", list(MENUS))
def test_each_role_has_its_menu(role: Role) -> None:
    assert [item.href for item in navigation.menu(actor(role))] == MENUS[role]


@pytest.mark.parametrize("role", list(MENUS))
def test_every_page_shows_the_menu_of_the_users_role(portal: PortalUnderTest, role: Role) -> None:
    portal.api.on("GET", "/registry/organisations", [SCHOOL])
    page = portal.client(role, SCOPES.get(role, "demo")).get("/auditor")
    assert page.status_code == 200
    nav = page.text[page.text.index('<nav aria-label="Основное меню">'):page.text.index("</nav>")]
    assert re.findall(r'<li><a href="([^"]*)">', nav) == MENUS[role]


@pytest.mark.parametrize(("role", "start"), [(Role.CURATOR, f"/organisations/{SCHOOL['id']}/worklist"),
                                             (Role.MUNICIPAL, "/dashboard"), (Role.REGIONAL, "/dashboard"),
                                             (Role.AUDITOR, "/auditor")])
def test_each_role_starts_on_its_page(portal: PortalUnderTest, role: Role, start: str) -> None:
    portal.api.on("GET", "/registry/organisations", [SCHOOL])
    home = portal.client(role, SCOPES.get(role, "demo")).get("/")
    assert home.status_code == 303 and home.headers["location"] == start


def test_only_a_curator_is_led_to_the_pages_of_an_own_organisation(portal: PortalUnderTest) -> None:
    portal.api.on("GET", "/registry/organisations", [SCHOOL])
    for path in ("/surveys", "/reports"):
        page = portal.client().get(path)
        assert page.headers["location"] == f"/organisations/{SCHOOL['id']}{path}"
    assert portal.client().get("/bases").headers["location"] == f"/organisations/{SCHOOL['id']}"
    assert portal.client(Role.REGIONAL, "demo").get("/surveys").headers["location"] == "/dashboard"
    assert portal.client(Role.REGIONAL, "demo").get("/bases").headers["location"] == "/dashboard"


def test_no_page_module_or_template_decides_by_role() -> None:
    """navigation.py is the one place; auth.py only names the roles and the demo accounts (a
    template may still show a role's title)."""
    deciding = re.compile(r"\bRole\.[A-Z_]+|\bactor\.role\s*(==|!=|is\b|in\b|not\b)")
    found = [f"{p.relative_to(PORTAL)}:{n}" for p in sorted(PORTAL.rglob("*"))
             if p.suffix in (".py", ".html") and p.name not in ("navigation.py", "auth.py")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if deciding.search(line)]
    assert found == []


def documented_urls(docstring: str) -> set[str]:
    """The URLs of a page module's «URLs:» paragraph, their parameters as ``{}``; «…» stands for
    ``/organisations/{id}`` and a query string is left out."""
    paragraph = docstring[docstring.index("URLs:"):].split("\n\n")[0]
    urls = set()
    for url in re.findall(r"``([/…][^`]*)``", paragraph):
        url = url.split("?")[0].replace("…", "/organisations/{id}", 1) if url.startswith("…") \
            else url.split("?")[0]
        urls.add(re.sub(r"\{[^}]*\}", "{}", url))
    return urls


@pytest.mark.parametrize("group", PAGE_GROUPS, ids=lambda g: g.__name__.rpartition(".")[2])
def test_each_page_module_lists_its_urls_and_the_map_names_it(group: object) -> None:
    routes = {re.sub(r"\{[^}]*\}", "{}", r.path) for r in group.router.routes}  # type: ignore[attr-defined]
    assert documented_urls(group.__doc__ or "") == routes  # type: ignore[attr-defined]
    name = group.__name__.rpartition(".")[2]  # type: ignore[attr-defined]
    assert f"``pages/{name}.py``" in (services.portal.__doc__ or "")


def test_every_route_of_the_portal_belongs_to_one_page_group() -> None:
    grouped = [r for group in PAGE_GROUPS for r in group.router.routes]
    assert len(router.routes) == len(grouped) == len({(r.path, *sorted(r.methods)) for r in grouped
                                                      if isinstance(r, APIRoute)})
    modules = {p.stem for p in (PORTAL / "pages").glob("*.py")} - {"__init__"}
    assert modules == {g.__name__.rpartition(".")[2] for g in PAGE_GROUPS}
