"""Property-based fuzzing of the public API from its own OpenAPI schema (schemathesis).

The real app (every service's runtime, as ``nastavnik up`` builds it) runs under uvicorn on a
loopback port against a real NATS, with a populated region and a valid regional token. Every
operation of its OpenAPI document is fuzzed: requests are generated both valid and invalid by
the schema, and every response is held to all of schemathesis's checks (issue 18, Done when):
no 5xx, documented statuses, content types and headers, bodies matching the schema, invalid
data refused, valid data not refused as invalid, a missing bearer answered 401, an unsupported
method answered 405.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from services.bootstrap import runtimes_for
from services.monitoring.audit.feeder import init_key
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.nats_server import EmbeddedNats, free_port
from shared.settings import Settings
from tests.conftest import TEST_SECRET

#: Per operation and generation mode: ~110 operations x 2 modes stay within about three minutes
#: on a loaded two-core machine.
MAX_EXAMPLES = 8
#: Every check schemathesis has, except those that cannot apply to one request at a time
#: against this API (each says why); nothing else is left out.
NOT_APPLICABLE = {
    # Stateful checks: they need schemathesis's stateful phase (links between operations), which
    # this schema does not declare; in a single call they would judge nothing.
    "use_after_free", "ensure_resource_availability",
    # Needs a second user's credentials to swap in; cross-tenant reads are the access matrix's
    # job (tests/security/test_access_matrix.py, 253 attempts and more).
    "object_level_authorization",
}
#: Schema-valid data is never refused as invalid (positive_data_acceptance: no 400 or 422; a
#: 404 for an id that names nothing, a 409 conflict, a 403 outside the actor's scope remain
#: answers to valid requests), except on these operations, where a rule reaches past what the
#: OpenAPI document can say; their refusal is a documented 422 with a code and a Russian message.
DOMAIN_RULES = {
    # A person's name must be Russian words (no digits, no Latin look-alikes of Cyrillic
    # letters), the birth date plausible for the role as of today, a SNILS's checksum right, a
    # phone and an e-mail deliverable: JSON Schema has no "as of today" nor checksums, and a
    # pattern for the names would be the validator (services/registry/validation) rewritten.
    "POST /registry/mentors": "names, birth date as of today, SNILS checksum",
    "POST /registry/mentees": "names, birth date as of today, SNILS checksum",
    # The scope is a programme, or a municipality together with a form: a dependency between
    # query parameters, which OpenAPI's parameter list cannot state (only a body schema can).
    "GET /pairing/suggestions": "programme_id, or municipality_id with form",
    "GET /pairing/suggestions/stable": "programme_id, or municipality_id with form",
    "GET /pairing/unpaired": "programme_id, or municipality_id with form",
    # A deadline falls within its period or soon after it, one report per period, each level's
    # deadline after the one below it: date arithmetic and comparisons between values, which
    # JSON Schema has not; and the time zone is one the server's tz database knows.
    "PUT /monitoring/calendar": "deadlines against periods and levels, a known time zone",
}
STRICT = ["2xx", "401", "403", "404", "409", "429"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": STRICT}}})
CONFIG_DOMAIN_RULES = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": [*STRICT, "422"]}}})
load_all_checks()  # the OpenAPI checks register themselves on import
ALL_CHECKS = [check for check in CHECKS.get_all() if check.__name__ not in NOT_APPLICABLE]


class Server:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        event = threading.Event()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            event.wait(0.05)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    mp = pytest.MonkeyPatch()
    mp.setenv("NASTAVNIK_API_REQUESTS_PER_MINUTE", "0")
    with EmbeddedNats(folder / "nats") as nats:
        settings_ = Settings(data_dir=folder / "data", token_secret=TEST_SECRET, nats_url=nats.url)
        init_key(settings_, exist_ok=True)  # the deployment's explicit step before the first start
        runtimes = runtimes_for(settings_)
        app = create_app(settings_, runtimes)
        port = free_port()
        try:
            with Server(app, port):
                base = f"http://127.0.0.1:{port}"
                token = issue_token(Actor(user="fuzzer", role=Role.REGIONAL, scope=OrgPath(region="demo")),
                                    TEST_SECRET)
                headers = {"Authorization": f"Bearer {token}"}
                populate(base, headers)
                yield base, headers
        finally:
            for runtime in runtimes:
                runtime.close()
            mp.undo()


def populate(base: str, headers: dict[str, str]) -> None:
    """Some real records, so generated ids and paths sometimes hit something."""
    import httpx

    with httpx.Client(base_url=base, headers=headers) as client:
        region = client.post("/registry/organisations", json={"code": "demo", "name": "Демо",
                                                               "kind": "region"}).json()["id"]
        municipality = client.post("/registry/organisations", json={
            "code": "m1", "name": "Округ", "kind": "municipality", "parent_id": region}).json()["id"]
        client.post("/registry/organisations", json={
            "code": "school-a", "name": "Школа", "kind": "school", "parent_id": municipality})


def test_no_server_errors_and_responses_match_the_schema(api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    assert {c.__name__ for c in ALL_CHECKS} >= {
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
        "positive_data_acceptance", "missing_required_header", "unsupported_method", "ignored_auth"}
    # The document itself needs a bearer now (shared.diagnostics).
    strict, lenient = (schemathesis.openapi.from_url(f"{base}/openapi.json", headers=headers,
                                                     config=config)
                       for config in (CONFIG, CONFIG_DOMAIN_RULES))
    operations = [result.ok() for result in strict.get_all_operations()
                  if result.ok().label not in DOMAIN_RULES]
    operations += [result.ok() for result in lenient.get_all_operations()
                   if result.ok().label in DOMAIN_RULES]
    assert {o.label for o in operations} >= set(DOMAIN_RULES)  # each exception names a route
    assert len(operations) >= 100, [o.label for o in operations]  # every service's API
    failures: dict[str, str] = {}
    for operation, mode in [(o, m) for o in operations for m in GenerationMode]:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=base, headers=headers, checks=ALL_CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            # An operation with no parameters and no body has nothing to make invalid.
            if mode is not GenerationMode.NEGATIVE:
                raise
        except BaseException as exc:  # schemathesis reports a FailureGroup (a BaseExceptionGroup)
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
