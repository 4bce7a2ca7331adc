"""Organisation paths as text: every path reads back as itself, whatever its depth."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.auth import Actor, OrgPath, Role, issue_token, read_token

codes = st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True)
paths = st.builds(OrgPath, region=codes, municipality=st.none() | codes,
                  organisation=st.none() | codes)


@given(paths)
def test_every_path_reads_back_as_itself(path: OrgPath) -> None:
    assert OrgPath.parse(str(path)) == path


def test_an_organisation_directly_under_the_region_is_not_a_municipality() -> None:
    college = OrgPath(region="demo", organisation="college1")
    assert str(college) == "demo/_/college1"
    assert OrgPath.parse("demo/college1") == OrgPath(region="demo", municipality="college1")
    assert OrgPath.parse("demo/college1") != college


def test_a_regional_colleges_curator_keeps_their_scope_through_a_token() -> None:
    secret = "a-secret-of-at-least-thirty-two-bytes!!"
    curator = Actor(user="c", role=Role.CURATOR, scope=OrgPath(region="demo", organisation="college1"))
    again = read_token(issue_token(curator, secret), secret)
    assert again == curator
    assert again.can_write(OrgPath(region="demo", organisation="college1"))
    # A municipality whose code happens to equal the college's is someone else's, and so is a
    # municipality's organisation that happens to share the college's code.
    assert not again.can_write(OrgPath(region="demo", municipality="college1", organisation="school-1"))
    assert not again.can_read(OrgPath(region="demo", municipality="m1", organisation="college1"))


@pytest.mark.parametrize("text", ["demo/_", "demo/m1/_", "_/m1/s1", "a/b/c/d", "", "demo/_/x/y"])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        OrgPath.parse(text)
