"""Request bodies whose text is stripped, and a JSON Schema that says what they accept.

A body model that strips its strings (``str_strip_whitespace``) checks ``min_length``,
``max_length`` and ``pattern`` on the stripped text, while JSON Schema's ``minLength`` and
``maxLength`` count the text as sent: ``"a\\n"`` passes ``minLength: 1`` yet is empty to the
model, and a value padded past ``maxLength`` with spaces is accepted. ``StrippedInput`` states
the bounds in a pattern over the text as sent instead: optional surrounding whitespace (exactly
the characters pydantic strips), then the content, whose first and last characters are not
whitespace, within the bounds. No character of it is NUL, which ``InputGuardMiddleware``
refuses in every request (``shared.openapi`` says so for every other free string).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

#: The characters pydantic strips (Rust's ``str::trim``: Unicode White_Space); spelled out, as
#: ``\s`` differs between Python's ``re`` (it adds U+001C..U+001F) and ECMAScript's (U+FEFF).
WHITESPACE = ("\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
              "\\u205f\\u3000")
#: Free text as the API takes it: anything but NUL.
NUL_FREE = "^[^\\u0000]*$"
_SPACE = f"[{WHITESPACE}]*"
_ANY = "[^\\u0000]"
_EDGE = f"[^{WHITESPACE}\\u0000]"


def stripped_text_pattern(low: int, high: int | None) -> str:
    """Text whose stripped length is within ``low..high``, and in which no character is NUL."""
    if low == 0 and high is None:
        return NUL_FREE
    if high is not None and high < 2:
        content = _EDGE
    else:
        fewest = max(low - 2, 0)
        middle = f"{_ANY}*" if high is None and not fewest else (
            f"{_ANY}{{{fewest},{'' if high is None else high - 2}}}")
        content = f"{_EDGE}{middle}{_EDGE}" if low > 1 else f"{_EDGE}(?:{middle}{_EDGE})?"
    if low == 0:
        content = f"(?:{content})?"
    return f"^{_SPACE}{content}{_SPACE}$"


def _state_stripping(schema: dict[str, Any]) -> None:
    """Rewrite one property's schema (and the strings inside it) for stripped text."""
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            _state_stripping(option)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _state_stripping(schema[key])
    if schema.get("type") != "string" or "enum" in schema or "const" in schema or "format" in schema:
        return
    pattern = schema.get("pattern")
    if pattern in (None, NUL_FREE):
        schema["pattern"] = stripped_text_pattern(schema.pop("minLength", 0),
                                                  schema.pop("maxLength", None))
        return
    if "minLength" in schema or "maxLength" in schema or not (
            pattern.startswith("^") and pattern.endswith("$")):
        # Two patterns cannot be one; such a field states its bounds in its own pattern.
        raise TypeError(f"a stripped field with a pattern states its length in it: {pattern}")
    # The model checks the pattern on the stripped text: whitespace around it is taken.
    schema["pattern"] = f"^{_SPACE}(?:{pattern[1:-1]}){_SPACE}$"


class StrippedInput(BaseModel):
    """A request body: no unknown fields, its text stripped, its schema saying so."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        for prop in handler.resolve_ref_schema(json_schema).get("properties", {}).values():
            _state_stripping(prop)
        return json_schema
