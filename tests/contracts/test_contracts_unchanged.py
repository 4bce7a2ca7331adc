"""The HTTP API and the event catalogue are contracts with clients, other regions' systems and
auditors' tools: a structural change must leave both exactly as they were.

The snapshots beside this file were taken before the restructuring ("One shape for every
service"). When a contract changes on purpose, regenerate them with
``NASTAVNIK_UPDATE_CONTRACTS=1 pytest tests/contracts`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from services.bootstrap import runtimes_for
from services.monitoring.audit.feeder import init_key
from shared.events import CATALOGUE
from shared.host import create_app
from shared.settings import Settings

HERE = Path(__file__).resolve().parent
TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes"


def openapi_document(tmp_path: Path) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path / "data", token_secret=TEST_SECRET)
    init_key(settings, exist_ok=True)  # the deployment's explicit step
    runtimes = runtimes_for(settings)
    try:
        return create_app(settings, runtimes).openapi()
    finally:
        for runtime in runtimes:
            runtime.close()


def event_catalogue() -> dict[str, Any]:
    return {name: {"version": spec.version, "upcasts_from": sorted(spec.upcasters),
                   "payload": spec.model.model_json_schema()}
            for name, spec in sorted(CATALOGUE.items())}


def compare(name: str, actual: dict[str, Any]) -> None:
    snapshot = HERE / name
    text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("NASTAVNIK_UPDATE_CONTRACTS"):
        snapshot.write_text(text, encoding="utf-8")
    expected = json.loads(snapshot.read_text(encoding="utf-8"))
    assert actual == expected, f"{name} changed; a structural change must not change a contract"


def test_the_http_api_is_the_one_clients_know(tmp_path: Path) -> None:
    compare("openapi.json", json.loads(json.dumps(openapi_document(tmp_path))))


@pytest.mark.parametrize("name", ["events.json"])
def test_the_event_catalogue_is_the_one_consumers_know(name: str) -> None:
    compare(name, json.loads(json.dumps(event_catalogue())))
