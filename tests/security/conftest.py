"""A whole system (registry, pairing, monitoring, documents) on a real NATS, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.bootstrap import SERVICES, runtimes_for
from services.monitoring.audit.feeder import init_key
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import TEST_SECRET
from tests.security.world import World

#: The services with a public API; the portal (HTML, its own cookie session) is tested on its own.
API_SERVICES = tuple(s for s in ("registry", "pairing", "monitoring", "documents") if s in SERVICES)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("security")
    mp = pytest.MonkeyPatch()
    mp.setenv("NASTAVNIK_API_REQUESTS_PER_MINUTE", "0")  # the matrix is not a flood
    with EmbeddedNats(folder / "nats") as nats:
        # Every request of these tests comes from the one test client's address: the sign-in
        # budget per address (tested on its own in test_sign_in.py) is set above their count.
        settings = Settings(data_dir=folder / "data", token_secret=TEST_SECRET, nats_url=nats.url,
                            login_address_attempts=1000)
        init_key(settings, exist_ok=True)  # the deployment's explicit step
        runtimes = runtimes_for(settings, API_SERVICES)
        try:
            with TestClient(create_app(settings, runtimes)) as client:
                world = World(client, settings, {r.name: r for r in runtimes})
                world.populate()
                yield world
        finally:
            mp.undo()
