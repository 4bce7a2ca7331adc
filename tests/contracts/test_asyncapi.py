"""The AsyncAPI document served beside the OpenAPI one: valid against the official AsyncAPI 3.0.0
schema (vendored in ``asyncapi_schema/``), and complete: every event of the catalogue on its
subject with its envelope and payload schema, every request/reply route with its reply."""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from services.monitoring.audit.heads import SignedHead
from services.registry.rpc import SHARED_FIELDS
from shared.asyncapi import COMPONENT_NAME, RPC_MODELS, AuditHead, PersonNames, rpc_channel
from shared.auth import OrgPath
from shared.bus import AUDIT_HEADS_SUBJECT
from shared.contracts import SOURCES, subject_for
from shared.events import CATALOGUE, PUBLISHED_BY
from shared.host import create_app
from shared.settings import Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCHEMA = json.loads((HERE / "asyncapi_schema" / "asyncapi-3.0.0.json").read_text(encoding="utf-8"))
TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """As the host serves it (no lifespan: the route needs no bus)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), token_secret=TEST_SECRET)
    response = TestClient(create_app(settings, [])).get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served: dict[str, Any] = response.json()
    return served


def errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in validator.iter_errors(document)]


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert errors(document) == []
    # The schema checks components only under names of its pattern: all of them, then.
    for kind, items in document["components"].items():
        assert [n for n in items if not COMPONENT_NAME.match(n)] == [], kind
    # What the JSON schema cannot see: every reference lands, every address parameter is declared.
    for ref in set(refs(document)):
        resolve(document, ref)
    for name, channel in document["channels"].items():
        named = set(re.findall(r"\{(\w+)\}", channel.get("address") or ""))
        assert named == set(channel.get("parameters", {})), name


def test_the_validator_refuses_a_broken_document(document: dict[str, Any]) -> None:
    """The validation above is not vacuous: the schema does reach channels and operations."""
    broken = copy.deepcopy(document)
    broken["operations"]["PairFormed"]["action"] = "publish"  # AsyncAPI 2's word, not 3's
    broken["channels"]["MeetingHeld"]["address"] = 42
    del broken["info"]["version"]
    found = errors(broken)
    assert len(found) == 3, found


def test_every_event_of_the_catalogue_on_its_subject_with_its_payload(document: dict[str, Any]) -> None:
    org = OrgPath(region="r50", municipality="m07", organisation="s1")
    for event_type, spec in CATALOGUE.items():
        source = PUBLISHED_BY[event_type]
        channel = document["channels"][event_type]
        address = channel["address"]
        assert address == f"nastavnik.{source}.{{region}}.{{municipality}}.{event_type}"
        # The pattern is the subject the relay publishes on, with the org path open.
        assert address.format(region="r50", municipality="m07") == subject_for(source, org, event_type)
        assert address.format(region="r50", municipality="_") == subject_for(
            source, OrgPath(region="r50"), event_type)

        operation = document["operations"][event_type]
        assert operation["action"] == "send"
        assert resolve(document, operation["channel"]["$ref"]) == channel
        [message_ref] = operation["messages"]
        message = resolve(document, resolve(document, message_ref["$ref"])["$ref"])
        envelope = resolve(document, message["payload"]["$ref"])
        assert envelope["properties"]["type"]["const"] == event_type
        assert envelope["properties"]["schema_version"]["maximum"] == spec.version
        assert {"event_id", "occurred_at", "org", "actor", "correlation_id", "causation_id",
                "source", "source_position", "aggregate_id", "aggregate_version"} <= set(
                    envelope["properties"])
        payload = resolve(document, envelope["properties"]["payload"]["$ref"])
        expected = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
        assert payload == expected, event_type
    event_channels = {n for n, c in document["channels"].items()
                      if (c.get("address") or "").startswith(tuple(f"nastavnik.{s}." for s in SOURCES))}
    assert event_channels == set(CATALOGUE)


def test_every_request_reply_route_with_its_queue_and_reply(document: dict[str, Any]) -> None:
    for route, (request, reply) in RPC_MODELS.items():
        name = rpc_channel(route)
        channel = document["channels"][name]
        assert channel["address"] == route.subject
        assert channel["bindings"]["nats"]["queue"] == route.queue
        operation = document["operations"][name]
        assert operation["action"] == "receive"
        [message_ref] = operation["messages"]
        message = resolve(document, resolve(document, message_ref["$ref"])["$ref"])
        assert resolve(document, message["payload"]["$ref"])["title"] == request.__name__
        [reply_ref] = operation["reply"]["messages"]
        answer = resolve(document, resolve(document, reply_ref["$ref"])["$ref"])
        assert {resolve(document, r["$ref"])["title"] for r in answer["payload"]["oneOf"]} == {
            reply.__name__, "RpcError"}
    heads = document["channels"]["audit.heads"]
    assert heads["address"] == AUDIT_HEADS_SUBJECT


def test_the_documented_shapes_are_the_ones_sent() -> None:
    """The models that describe JSON built elsewhere name the same fields as the code does."""
    assert set(AuditHead.model_fields) == set(SignedHead.__dataclass_fields__)
    assert set(PersonNames.model_fields) == {"full_name", "role", "organisation_id", "pseudonymous",
                                             "label", "protected", *SHARED_FIELDS}


def stored_event_types(service: str) -> set[str]:
    """The catalogue's events a service's aggregates record: ``@event("X")`` or a class ``X``."""
    found: set[str] = set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in CATALOGUE:
                found.add(node.name)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "event" and node.args
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in CATALOGUE):
                found.add(str(node.args[0].value))
    return found


def test_each_event_is_declared_with_the_service_that_stores_it() -> None:
    for service in SOURCES:
        declared = {t for t, source in PUBLISHED_BY.items() if source == service}
        assert stored_event_types(service) == declared, service
