"""One oversized registration must never stop the registry's outbox (SQLite, and PostgreSQL when set).

In depth: the commands bound every free string, the HTTP layer bounds the body, and the store
refuses, before anything is stored, an event whose envelope the bus would refuse. Whatever gets
through, every later event still reaches the stream.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import nats
import pytest
from eventsourcing.application import Application

from services.registry.application import RegistryService
from services.registry.commands import RegisterMentee, RegisterOrganisation
from services.registry.domain import Organisation
from shared.auth import OrgPath, Role, system_actor
from shared.bus import ensure_streams
from shared.contracts import stream_name
from shared.errors import DomainError
from shared.nats_server import EmbeddedNats
from shared.relay import EventTooLarge, OutboxRelay
from shared.settings import Settings
from shared.store import CommandContext
from tests.integration.registry.conftest import Registry, School, mentee

CURATOR_A = "demo/m1/school-a"


def test_requests_and_competencies_are_short_phrases(registry: Registry, schools: School) -> None:
    before = registry.stored()
    cases = {
        "long request": ("/registry/mentees", mentee(schools.school_id, requests=["ж" * 101])),
        "empty request": ("/registry/mentees", mentee(schools.school_id, requests=["   "])),
        "too many requests": ("/registry/mentees",
                              mentee(schools.school_id, requests=[f"запрос {i}" for i in range(51)])),
        "long competency": ("/registry/mentors", {
            "organisation_id": schools.school_id, "category": "teacher", "consent_given_by": "self",
            "competencies": ["ж" * 101],
            "person": {"last_name": "Петрова", "first_name": "Анна", "birth_date": "1985-03-14"}}),
        "long category": ("/registry/mentees", mentee(schools.school_id, category="ж" * 10_000)),
        "long snils": ("/registry/mentees", mentee(schools.school_id, person={"snils": "1" * 10_000})),
    }
    for name, (url, body) in cases.items():
        response = registry.post(url, body, Role.CURATOR, CURATOR_A)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR", name
    assert registry.stored() == before
    # Within the bounds: fifty phrases of a hundred characters are fine.
    body = mentee(schools.school_id, requests=[f"{i:02d}" + "ж" * 98 for i in range(50)])
    assert registry.post("/registry/mentees", body, Role.CURATOR, CURATOR_A).status_code == 201


def test_a_body_over_the_limit_is_refused_unread(registry: Registry, schools: School) -> None:
    before = registry.stored()
    body = mentee(schools.school_id, requests=["ж" * 100] * 50)
    body["padding"] = "x" * (5 * 1024 * 1024)  # over the 4 MiB limit for JSON
    response = registry.post("/registry/mentees", body, Role.CURATOR, CURATOR_A)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "REQUEST_TOO_LARGE"
    assert any("а" <= ch <= "я" for ch in response.json()["message"].lower())
    assert registry.stored() == before


def test_uploads_keep_their_own_limit(registry: Registry, schools: School) -> None:
    from shared.uploads import MAX_UPLOAD_BYTES

    def upload(size: int) -> Any:
        return registry.client.post(
            f"/registry/organisations/{schools.school_id}/import", params={"role": "mentee"},
            headers=registry.headers(Role.CURATOR, CURATOR_A),
            files={"file": ("base.csv", b"a" * size, "text/csv")})

    # Just over the file limit (within the multipart allowance): the route's own answer.
    just_over = upload(MAX_UPLOAD_BYTES + 10)
    assert (just_over.status_code, just_over.json()["code"]) == (413, "FILE_TOO_LARGE")
    # Far over: refused by the middleware before the body is read, in the same words.
    far_over = upload(MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
    assert (far_over.status_code, far_over.json()["code"]) == (413, "FILE_TOO_LARGE")
    # Larger than any JSON body may be, yet a legitimate upload: still reaches the importer.
    assert upload(5 * 1024 * 1024).json()["code"] != "REQUEST_TOO_LARGE"


def oversized_mentee(school_id: Any) -> RegisterMentee:
    """A registration the command model would refuse, built past it (as a buggy caller or an
    older client might): the store is the last line."""
    valid = RegisterMentee.model_validate(copy.deepcopy(mentee(str(school_id), grade=7)))
    return valid.model_copy(update={"requests": ["ж" * 12_000] * 50})


def organisations(service: RegistryService) -> tuple[Any, Any]:
    ctx = CommandContext(system_actor("demo"))
    region = service.register_organisation(ctx, RegisterOrganisation(code="demo", name="Демо",
                                                                     kind="region"))
    municipality = service.register_organisation(ctx, RegisterOrganisation(
        code="m1", name="Округ", kind="municipality", parent_id=region))
    school = service.register_organisation(ctx, RegisterOrganisation(
        code="school-a", name="Школа", kind="school", parent_id=municipality))
    return municipality, school


def test_the_store_refuses_an_event_the_bus_would_refuse_and_keeps_nothing(
        settings: Settings, fresh_nats: EmbeddedNats) -> None:
    service = RegistryService(settings)
    try:
        municipality, school = organisations(service)
        ctx = CommandContext(system_actor("demo"))
        before = service.events.max_position()
        with pytest.raises(DomainError) as caught:
            service.register_people(ctx, [oversized_mentee(school)])
        assert (caught.value.code, caught.value.status) == ("EVENT_TOO_LARGE", 413)
        assert any("а" <= ch <= "я" for ch in caught.value.message)
        assert service.events.max_position() == before
        # Nothing half-written: the same person registers once the data is within bounds.
        fine = oversized_mentee(school).model_copy(update={"requests": ["олимпиада"]})
        assert service.register_people(ctx, [fine])
        service.register_organisation(ctx, RegisterOrganisation(
            code="school-b", name="Школа 2", kind="school", parent_id=municipality))
        stored = service.events.max_position()

        async def publish() -> int:
            nc = await nats.connect(fresh_nats.url)
            js = nc.jetstream()
            await ensure_streams(js)
            await OutboxRelay(service.events, js).publish_pending()
            count = (await js.stream_info(stream_name("registry"))).state.messages
            await nc.close()
            return int(count)

        assert asyncio.run(publish()) == stored
    finally:
        service.close()


def test_a_stored_event_too_large_for_the_server_stops_the_relay_before_it_loudly(
        settings: Settings, fresh_nats: EmbeddedNats) -> None:
    """A store written before the check may hold one: what precedes it is still published, and
    the relay names the event instead of retrying a refused publish forever."""
    service = RegistryService(settings)
    try:
        ctx = CommandContext(system_actor("demo"))
        municipality, _ = organisations(service)
        path = OrgPath(region="demo", municipality="m1", organisation="big")
        big = Organisation(code="big", name="Ш" * (600 * 1024), kind="school",
                           parent_id=municipality, path=path.model_dump(), meta=ctx.meta(path))
        Application.save(service.events, big)  # past the store's own check
        position = service.events.max_position()

        async def publish() -> tuple[int, EventTooLarge]:
            nc = await nats.connect(fresh_nats.url)
            js = nc.jetstream()
            await ensure_streams(js)
            relay = OutboxRelay(service.events, js)
            with pytest.raises(EventTooLarge) as caught:  # 1.2 MB against the default 1 MiB
                await relay.publish_pending()
            count = (await js.stream_info(stream_name("registry"))).state.messages
            await nc.close()
            return int(count), caught.value

        count, error = asyncio.run(publish())
        assert count == position - 1
        assert (error.position, error.type) == (position, "OrganisationRegistered")
    finally:
        service.close()
