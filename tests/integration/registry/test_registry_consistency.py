"""Nothing half-written across replicas and crashes (SQLite file, and PostgreSQL when set).

Two replicas sharing one store and view; a crash (or a failure) between the steps of a command:
claims, keys, events and the view always end up agreeing, and a client that retries a command
which in fact succeeded is not given a duplicate.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

import services.registry.application as application
from services.registry import claims, views
from services.registry.application import RegistryService
from services.registry.commands import RegisterMentee, RegisterOrganisation, WithdrawConsent
from services.registry.vault import person_claims, person_keys
from shared.auth import system_actor
from shared.errors import DomainError
from shared.settings import Settings
from shared.store import CommandContext
from tests.integration.registry.conftest import mentee

CTX = CommandContext(system_actor("demo"))


class Crash(BaseException):
    """The process dies here: no ``except Exception`` runs, nothing is cleaned up."""


@pytest.fixture
def replicas(settings: Settings) -> Iterator[list[RegistryService]]:
    services = [RegistryService(settings), RegistryService(settings)]
    try:
        yield services
    finally:
        for service in services:
            service.close()


def region(service: RegistryService) -> UUID:
    return service.register_organisation(CTX, RegisterOrganisation(code="demo", name="Демо",
                                                                   kind="region"))


def school(service: RegistryService) -> UUID:
    municipality = service.register_organisation(CTX, RegisterOrganisation(
        code="m1", name="Округ", kind="municipality", parent_id=region(service)))
    return service.register_organisation(CTX, RegisterOrganisation(
        code="school-a", name="Школа", kind="school", parent_id=municipality))


def a_mentee(school_id: UUID, **person: Any) -> RegisterMentee:
    return RegisterMentee.model_validate(mentee(str(school_id), person=person))


def count(service: RegistryService, table: sa.Table) -> int:
    with service.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --- item: two replicas register one organisation path at once ---------------------------------

def test_two_replicas_racing_for_one_path_store_it_once(
        replicas: list[RegistryService], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = replicas
    parent = region(first)
    # Both replicas pause once their check of the view found the path free, just before
    # storing: nothing makes them take turns, the claim alone decides.
    both_checked = threading.Barrier(2, timeout=10)
    original = application.Organisation

    def checked_then_wait(*args: Any, **kwargs: Any) -> Any:
        organisation = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()
        return organisation

    monkeypatch.setattr(application, "Organisation", checked_then_wait)
    results: dict[str, Any] = {}

    def register(service: RegistryService, name: str) -> None:
        try:
            results[name] = service.register_organisation(CTX, RegisterOrganisation(
                code="m1", name="Округ", kind="municipality", parent_id=parent))
        except DomainError as exc:
            results[name] = exc.code
        except Exception as exc:  # noqa: BLE001 - what the race did before claims: reported
            results[name] = repr(exc)[:200]

    threads = [threading.Thread(target=register, args=(s, n)) for s, n in zip(replicas, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(application, "Organisation", original)
    assert sorted(str(type(v).__name__) if isinstance(v, UUID) else v for v in results.values()) == \
        ["DUPLICATE_ORGANISATION", "UUID"], results
    assert first.events.max_position() == 2  # the region and one municipality
    # The shared view is not poisoned: later commands on either replica work.
    for service in replicas:
        service.catch_up()
    assert second.register_organisation(CTX, RegisterOrganisation(
        code="m2", name="Округ 2", kind="municipality", parent_id=parent))
    assert count(first, views.organisations) == 3


def test_organisations_stored_before_claims_existed_are_claimed_at_start(settings: Settings) -> None:
    service = RegistryService(settings)
    try:
        parent = region(service)
        with service.engine.begin() as conn:
            conn.execute(claims.organisation_claims.delete())  # a store of the older version
    finally:
        service.close()
    restarted = RegistryService(settings)
    try:
        assert count(restarted, claims.organisation_claims) == 1
        with pytest.raises(DomainError, match="DUPLICATE_ORGANISATION"), \
                _without_lock_or_view_check(restarted):
            restarted.register_organisation(CTX, RegisterOrganisation(code="demo", name="Демо",
                                                                      kind="region"))
        assert restarted.organisation_row(parent).path == "demo"
    finally:
        restarted.close()


@contextlib.contextmanager
def _without_lock_or_view_check(service: RegistryService) -> Iterator[None]:
    """Only the claim stands between a command and a duplicate: a view that has not caught up
    (it shows no organisations at all)."""
    lagging = sa.select(*views.organisations.c).where(sa.false()).subquery("lagging")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "organisations", lagging)
        yield


# --- item: registering people and withdrawing consent never half-write -------------------------

def test_a_failing_catch_up_after_the_save_neither_fails_the_command_nor_frees_the_claim(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    service = RegistryService(settings)
    try:
        school_id = school(service)

        def broken(conn: sa.Connection, events: Any) -> None:
            raise RuntimeError("the view is down")

        monkeypatch.setattr(views, "apply_events", broken)
        ids = service.register_people(CTX, [a_mentee(school_id)])  # stored: the command succeeded
        monkeypatch.undo()
        assert len(ids) == 1
        with service.engine.connect() as conn:
            assert conn.execute(sa.select(person_claims.c.person_id)).scalars().all() == ids
            assert conn.execute(sa.select(person_keys.c.person_id)).scalars().all() == ids
        # The client retries what it took for a failure: the claim still says "already there".
        with pytest.raises(DomainError, match="DUPLICATE_PERSON"):
            service.register_people(CTX, [a_mentee(school_id)])
        # The view catches up later, and the person's data opens with the key that was kept.
        service.catch_up()
        assert service.get_person(system_actor("demo"), ids[0], purpose=None)["full_name"] == \
            "Орлов Егор Ильич"
    finally:
        service.close()


def test_a_crash_between_claiming_and_saving_leaves_nothing_after_restart(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    service = RegistryService(settings)
    try:
        school_id = school(service)
        survivor = service.register_people(CTX, [a_mentee(school_id, last_name="Иванов")])[0]

        def crash(*_: Any, **__: Any) -> None:
            raise Crash

        monkeypatch.setattr(service.events, "save", crash)
        with pytest.raises(Crash):
            service.register_people(CTX, [a_mentee(school_id)])
        monkeypatch.undo()
        assert count(service, person_claims) == 2 and count(service, person_keys) == 2  # orphans
    finally:
        service.close()
    restarted = RegistryService(settings)
    try:
        with restarted.engine.connect() as conn:
            assert conn.execute(sa.select(person_claims.c.person_id)).scalars().all() == [survivor]
            assert conn.execute(sa.select(person_keys.c.person_id)).scalars().all() == [survivor]
        # The person the crash interrupted registers normally now.
        assert restarted.register_people(CTX, [a_mentee(school_id)])
        assert restarted.get_person(system_actor("demo"), survivor, purpose=None)["personal"]
    finally:
        restarted.close()


def test_a_failed_save_takes_back_the_claims_and_keys_it_made(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    service = RegistryService(settings)
    try:
        school_id = school(service)

        def refused(*_: Any, **__: Any) -> None:
            raise DomainError("EVENT_TOO_LARGE", "слишком много", 413)

        monkeypatch.setattr(service.events, "save", refused)
        with pytest.raises(DomainError, match="EVENT_TOO_LARGE"):
            service.register_people(CTX, [a_mentee(school_id)])
        monkeypatch.undo()
        assert count(service, person_claims) == 0 and count(service, person_keys) == 0
        assert service.register_people(CTX, [a_mentee(school_id)])
    finally:
        service.close()


def test_consent_is_withdrawn_in_the_store_before_the_key_goes_and_a_crash_between_finishes(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    service = RegistryService(settings)
    try:
        school_id = school(service)
        person_id = service.register_people(CTX, [a_mentee(school_id)])[0]
        stored = service.events.max_position()

        save = service.events.save

        def save_then_crash(*objs: Any, **kwargs: Any) -> None:
            save(*objs, **kwargs)
            raise Crash  # right after the event is stored

        monkeypatch.setattr(service.events, "save", save_then_crash)
        with pytest.raises(Crash):
            service.withdraw_consent(CTX, person_id, WithdrawConsent(reason="по заявлению"))
        monkeypatch.undo()
        # The withdrawal is stored (what the key's destruction rests on)…
        assert service.events.max_position() == stored + 1
        assert count(service, person_keys) == 1  # …and the crash came before the key went.
    finally:
        service.close()
    restarted = RegistryService(settings)  # its catch-up applies ConsentWithdrawn
    try:
        assert count(restarted, person_keys) == 0 and count(restarted, person_claims) == 0
        card = restarted.get_person(system_actor("demo"), person_id, purpose=None)
        assert card["personal"] is None and card["withdrawn"] is True
        # Destroying it again (a replay, a second replica) changes nothing.
        with restarted.engine.begin() as conn:
            restarted.vault.shred(conn, person_id)
        with pytest.raises(DomainError, match="CONSENT_ALREADY_WITHDRAWN"):
            restarted.withdraw_consent(CTX, person_id, WithdrawConsent())
    finally:
        restarted.close()


def test_a_withdrawal_that_could_not_be_stored_keeps_the_key(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    service = RegistryService(settings)
    try:
        school_id = school(service)
        person_id = service.register_people(CTX, [a_mentee(school_id)])[0]

        def down(*_: Any, **__: Any) -> None:
            raise ConnectionError("the event store is down")

        monkeypatch.setattr(service.events, "save", down)
        with pytest.raises(ConnectionError):
            service.withdraw_consent(CTX, person_id, WithdrawConsent())
        monkeypatch.undo()
        # Consent still stands in the store, so the person's data must still open.
        assert service.get_person(system_actor("demo"), person_id, purpose=None)["personal"]
    finally:
        service.close()


# --- item: the destroyed key leaves no trace in the data folder --------------------------------

def test_a_destroyed_key_is_in_no_file_of_the_data_folder(settings: Settings) -> None:
    if settings.uses_postgres:
        pytest.skip("the keys live in PostgreSQL there, not in the data folder")
    service = RegistryService(settings)
    try:
        school_id = school(service)
        people = service.register_people(CTX, [a_mentee(school_id, last_name=name)
                                               for name in ("Орлов", "Иванов", "Сидоров")])
        with service.engine.connect() as conn:
            wrapped = conn.execute(sa.select(person_keys.c.wrapped_key)
                                   .where(person_keys.c.person_id == people[1])).scalar_one()
        files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
        assert any(wrapped in p.read_bytes() for p in files)  # the test can see a key at all
        service.withdraw_consent(CTX, people[1], WithdrawConsent())
        # While the service still runs (no close, no checkpoint at exit):
        for path in settings.data_dir.rglob("*"):
            if path.is_file():
                assert wrapped not in path.read_bytes(), path
        assert count(service, person_keys) == 2
    finally:
        service.close()
