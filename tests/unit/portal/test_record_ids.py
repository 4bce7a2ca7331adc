"""A person's, a pair's and a roadmap's page shows the record's id to quote (to an auditor, to the
support): selectable text, and a «Копировать» button named for what it copies, hidden until the
script finds a clipboard to put it on."""

from __future__ import annotations

import re

from shared.auth import Role
from tests.unit.portal.conftest import PortalUnderTest
from tests.unit.portal.test_curator_pages import (
    MENTEE,
    MENTOR,
    PAIR,
    PERSON,
    SCHOOL,
    school_api,
    worklist_api,
)
from tests.unit.portal.test_officials import ROADMAP_ID, municipal_roadmap_api


def record_id_line(html: str, value: str) -> str:
    """The «Идентификатор» line that carries ``value``; fails when there is none."""
    found = re.search(r'<p class="record-id muted">Идентификатор: <code class="copyable" tabindex="0">'
                      + re.escape(value) + r"</code>.*?</p>", html, re.S)
    assert found, f"no id line for {value}"
    return found.group(0)


def assert_copyable(html: str, value: str, named: str) -> None:
    line = record_id_line(html, value)
    assert f'data-copy="{value}"' in line and "hidden" in line  # shown by copy.js, not without it
    assert f'Копировать<span class="sr-only"> идентификатор {named}</span>' in line
    assert '<script src="/static/copy.js" defer></script>' in html


def test_a_persons_card_shows_the_id_to_copy(portal: PortalUnderTest) -> None:
    school_api(portal)
    portal.api.on("GET", f"/registry/people/{MENTEE}", PERSON)
    page = portal.client().get(f"/people/{MENTEE}")
    assert page.status_code == 200, page.text
    assert_copyable(page.text, MENTEE, "участника")


def test_a_pairs_page_shows_the_id_to_copy(portal: PortalUnderTest) -> None:
    worklist_api(portal)
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", {
        "id": PAIR, "organisation_id": SCHOOL["id"], "path": SCHOOL["path"], "status": "active",
        "form": "student-student", "mentor_id": MENTOR, "mentee_ids": [MENTEE], "meetings": [],
        "goals": []})
    page = portal.client().get(f"/pairs/{PAIR}")
    assert page.status_code == 200, page.text
    assert_copyable(page.text, PAIR, "пары")


def test_each_roadmap_shows_its_id_to_copy(portal: PortalUnderTest) -> None:
    url = municipal_roadmap_api(portal)
    portal.api.on("GET", "/documents", [])
    page = portal.client(Role.MUNICIPAL, "demo/m1").get(url)
    assert page.status_code == 200, page.text
    assert_copyable(page.text, ROADMAP_ID, "дорожной карты")
    # Inside the roadmap's own section, so it comes along when htmx swaps the section alone.
    section = page.text[page.text.index(f'id="roadmap-{ROADMAP_ID}"'):]
    assert section.index("Идентификатор:") < section.index("</section>")
