"""The embedded mode trusts no proxy, not even the loopback, unless someone decided otherwise
(the portal proves its forwarding with a header of its own)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services import bootstrap
from services.bootstrap import SERVICES, embedded_settings
from shared.settings import Settings


def test_the_loopback_is_not_trusted_when_nobody_chose(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASTAVNIK_TRUSTED_PROXIES", raising=False)
    assert embedded_settings(tmp_path).trusted_proxies == []


def test_the_environment_decides_even_when_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_TRUSTED_PROXIES", "")
    assert embedded_settings(tmp_path).trusted_proxies == []
    monkeypatch.setenv("NASTAVNIK_TRUSTED_PROXIES", "10.0.0.0/8")
    assert embedded_settings(tmp_path).trusted_proxies == ["10.0.0.0/8"]


def test_the_caller_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASTAVNIK_TRUSTED_PROXIES", raising=False)
    assert embedded_settings(tmp_path, trusted_proxies=["192.0.2.1"]).trusted_proxies == ["192.0.2.1/32"]


def test_every_service_has_a_runtime() -> None:
    assert set(SERVICES) == {"registry", "pairing", "monitoring", "documents", "portal"}


def test_embedded_relays_hold_no_lease_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process, one relay per store: the lease would only cost idle time."""
    monkeypatch.delenv("NASTAVNIK_RELAY_LEASE_SECONDS", raising=False)
    assert embedded_settings(tmp_path).relay_lease_seconds == 0
    monkeypatch.setenv("NASTAVNIK_RELAY_LEASE_SECONDS", "4")
    assert embedded_settings(tmp_path).relay_lease_seconds == 4


@pytest.mark.parametrize(("given", "expected"), [
    ("", None), ("https://nastavnik.region.ru/", "https://nastavnik.region.ru")])
def test_nastavnik_up_links_letters_to_itself_unless_the_region_named_its_portal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, expected: str | None) -> None:
    """The embedded system (its nats-server and mail catcher real, no service runtimes) gives the
    mailer its own API address, where the portal is served, or keeps the address the region set."""
    seen: dict[str, str] = {}

    async def serve(settings: Settings, runtimes: list[Any], after_start: Any,
                    elsewhere: dict[str, str]) -> None:
        await asyncio.to_thread(after_start)

    monkeypatch.setattr(bootstrap, "runtimes_for", lambda settings, names: [])
    monkeypatch.setattr(bootstrap, "serve_until_stopped", serve)
    settings = embedded_settings(tmp_path, api_port=0, portal_url=given, run_apart=[])
    bootstrap.run_embedded(settings, lambda api, nats: seen.update(api=api))
    assert seen["api"].startswith("http://127.0.0.1:")
    assert settings.portal_url == (expected or seen["api"])
