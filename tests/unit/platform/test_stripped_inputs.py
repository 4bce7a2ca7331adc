"""A stripped body's schema accepts exactly the text its model accepts (shared.inputs)."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from shared.inputs import StrippedInput

#: Whitespace pydantic strips, the separators Python's ``\s`` adds, U+FEFF and NUL: the edges.
TRICKY = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1f\ufeff\x00"


class Sample(StrippedInput):
    name: str = Field(min_length=1, max_length=5)
    code: str = Field(min_length=3, max_length=4)
    note: str = ""
    tags: list[Annotated[str, Field(min_length=2)]] = []


SCHEMA = Sample.model_json_schema()["properties"]


def accepted(field: str, text: str) -> bool:
    if "\x00" in text:
        return False  # InputGuardMiddleware refuses it before the model
    body = {"name": "a", "code": "abc", field: [text] if field == "tags" else text}
    try:
        Sample.model_validate(body)
    except ValidationError:
        return False
    return True


def stated(schema: dict[str, object], text: str) -> bool:
    return re.search(str(schema["pattern"]), text) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY) | st.sampled_from("ab я"), max_size=9))
def test_the_pattern_accepts_what_the_model_accepts(text: str) -> None:
    for field in ("name", "code", "note"):
        assert stated(SCHEMA[field], text) == accepted(field, text), (field, text)
    assert stated(SCHEMA["tags"]["items"], text) == accepted("tags", text), text


def test_the_bounds_are_in_the_pattern_not_in_the_lengths() -> None:
    assert not {"minLength", "maxLength"} & SCHEMA["name"].keys()
    assert stated(SCHEMA["name"], "  abcde\n") and not stated(SCHEMA["name"], " \n")


def test_a_pattern_beside_a_length_is_refused() -> None:
    class Unclear(StrippedInput):
        value: str = Field(max_length=5, pattern="^[a-z]+$")

    with pytest.raises(TypeError):
        Unclear.model_json_schema()
