"""The registry's service layer: each command checks rights and rules, stores events atomically,
catches the local view up and wakes the relay. Queries read the view; names are unsealed only
for an actor allowed to see that organisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from eventsourcing.domain import event

from services.registry import claims, disclosure, forms, views
from services.registry.accounts import AccountService
from services.registry.commands import (
    DeclareContingent,
    LaunchProgramme,
    RegisterMentee,
    RegisterMentor,
    RegisterOrganisation,
    WithdrawConsent,
)
from services.registry.contacts import Contacts
from services.registry.domain import (
    Organisation,
    Person,
    PersonRole,
    Programme,
    check_consent,
    child_path,
)
from services.registry.importing import validate_import
from services.registry.importing.commands import command_from_row, import_error, row_problem
from services.registry.invitations import InvitationService
from services.registry.names import DocumentNames
from services.registry.paired import BusPairs, PairedMentors
from services.registry.validation import is_minor
from services.registry.vault import Vault, person_claims, person_keys
from shared.auth import (
    Actor,
    OrgPath,
    PersonalView,
    personal_data_view,
    require_region_registrar,
)
from shared.errors import DomainError, conflict, not_found
from shared.isolation import run_isolated
from shared.localtime import today_in
from shared.logging import get_logger
from shared.memory import bulk_work
from shared.settings import Settings
from shared.store import (
    CommandContext,
    EventSourcedAggregate,
    EventSourcedService,
    ServiceApplication,
    view_engine,
)

log = get_logger(__name__)


class RegistryStore(ServiceApplication):
    name = "Registry"
    source = "registry"


class PersonalDataAccess(EventSourcedAggregate):
    """One read of people's personal data (152-ФЗ): who (the event's actor), whose (ids only),
    for what. Its own aggregate per read, so reads never contend with changes to the person."""

    @event("PersonalDataAccessed")
    def __init__(self, person_ids: list[UUID], purpose: str, meta: dict[str, Any]) -> None:
        self.person_ids = person_ids
        self.purpose = purpose


#: People named in one ``PersonalDataAccessed``: a list of a large college stays a few events of
#: modest size rather than one the bus would refuse.
ACCESS_RECORD_MAX_PEOPLE = 1000
#: More orphans than this at start means something else is wrong (a view being rebuilt, say):
#: then nothing is deleted and the count is logged.
MAX_ORPHANS_REMOVED = 1000


class RegistryService(DocumentNames, PairedMentors, EventSourcedService):
    """Commands of every replica run at once. One person per ФИО and birth date in an
    organisation, and one organisation per path, are claims the database enforces (a unique
    key), whatever another replica does meanwhile; a change to one aggregate is saved against
    the version it read and run again if another replica saved first (``retrying``). A command
    that claims before its save holds the start-up lock shared, so a replica starting meanwhile
    never takes its claim for a crash's orphan."""

    def __init__(self, settings: Settings, today: Callable[[], date] | None = None, *,
                 events: ServiceApplication | None = None, engine: sa.Engine | None = None) -> None:
        """``events`` and ``engine``: another event store and view database (in memory, for the
        service layer's own tests); by default those the settings name."""
        # secure_delete: a destroyed person key must not stay readable in the database file.
        super().__init__(events or RegistryStore(settings),
                         engine or view_engine(settings, "registry", secure_delete=True), views)
        self.settings = settings
        # The region's date, not the server's (a UTC server is a day behind after 21:00 MSK).
        self.today = today or today_in(settings.zone)
        views.create_tables(self.engine)
        claims.create_tables(self.engine)
        self.vault = Vault(self.engine, settings.secrets_dir)
        self.accounts = AccountService(self.engine, settings.signing_secret, settings,
                                       secrets_dir=settings.secrets_dir)
        self.accounts.ensure_demo_accounts(settings.region)
        self.invitations = InvitationService(self.engine, self.accounts)
        #: Which pairs grant a mentor's name (the runtime plugs in the NATS connection).
        self.pairs_peer = BusPairs(None)
        self.contacts = Contacts(self.engine, self.vault, self.accounts, settings.secrets_dir)
        self._recover()

    def _recover(self) -> None:
        """At start: the view caught up (which also destroys the key of any withdrawal a crash
        interrupted), organisations stored before path claims existed claimed, and the claims
        and keys a crash left between reserving and saving removed."""
        with self.start_up_alone():
            self.catch_up()
            self._claim_and_clean()
        self.vault.purge_deleted()

    def _claim_and_clean(self) -> None:
        with self.engine.begin() as conn:
            orgs = views.organisations
            conn.execute(claims.organisation_claims.insert().from_select(
                ["path", "organisation_id"],
                sa.select(orgs.c.path, orgs.c.id).where(~sa.exists().where(
                    claims.organisation_claims.c.path == orgs.c.path))))
            self._remove_orphans(conn)

    def _remove_orphans(self, conn: sa.Connection) -> None:
        def unknown(column: sa.ColumnElement[Any], known: sa.ColumnElement[Any]) -> sa.Select[Any]:
            # NOT EXISTS: one primary-key probe per row, on SQLite and PostgreSQL alike.
            return sa.select(column).where(~sa.exists().where(known == column))

        people = {row[0] for row in conn.execute(
            unknown(person_claims.c.person_id, views.people.c.id)
            .union(unknown(person_keys.c.person_id, views.people.c.id)))}
        organisations = {row[0] for row in conn.execute(
            unknown(claims.organisation_claims.c.organisation_id, views.organisations.c.id))}
        if not people and not organisations:
            return
        if len(people) + len(organisations) > MAX_ORPHANS_REMOVED:
            log.error("registry.orphans_left", people=len(people), organisations=len(organisations))
            return
        # The view is caught up, but a key is for good: the event store has the last word.
        people = {p for p in people if not self._stored(p)}
        organisations = {o for o in organisations if not self._stored(o)}
        self.vault.forget(conn, list(people))
        for organisation_id in organisations:
            claims.release(conn, organisation_id)
        log.warning("registry.orphans_removed", people=len(people), organisations=len(organisations))

    def _stored(self, aggregate_id: UUID) -> bool:
        return bool(self.events.recorder.select_events(aggregate_id, limit=1))

    def _save_or_undo(self, aggregates: Sequence[Any], undo: Callable[[sa.Connection], None]) -> None:
        """Save; if that fails, undo the reservations made for it, unless the events were stored
        after all (a commit whose answer was lost). The view's catch-up errors no longer matter
        here: the command has happened once its events are stored."""
        try:
            recordings = self.events.save(*aggregates)
        except Exception:
            try:
                if not self._stored(aggregates[0].id):
                    with self.engine.begin() as conn:
                        undo(conn)
            except Exception as exc:  # noqa: BLE001 - the start-up clean-up removes them later
                log.warning("registry.undo_failed", error=repr(exc))
            raise
        self._after_stored(max((r.notification.id for r in recordings), default=0))

    # --- organisations ------------------------------------------------------------------------

    def organisation_row(self, organisation_id: UUID) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(views.organisations)
                               .where(views.organisations.c.id == organisation_id)).first()
        if row is None:
            raise not_found("Организация", "ORGANISATION_NOT_FOUND")
        return row

    def register_organisation(self, ctx: CommandContext, cmd: RegisterOrganisation) -> UUID:
        # Where it goes and who may put it there depend only on the parent, which never moves:
        # worked out before the lock.
        parent = None if cmd.parent_id is None else self._parent_row(cmd.parent_id)
        parent_path = None if parent is None else OrgPath.parse(parent.path)
        path = child_path(parent_path, cmd.kind, cmd.code)
        if parent_path is None:
            require_region_registrar(ctx.actor, path.region)
        else:
            ctx.actor.require_write(parent_path)
        duplicate = conflict("DUPLICATE_ORGANISATION",
                             f"Организация с кодом «{cmd.code}» уже есть на этом уровне")
        with self.sharing_start_up():
            with self.engine.connect() as conn:
                taken = conn.execute(sa.select(views.organisations.c.id)
                                     .where(views.organisations.c.path == str(path))).first()
            if taken:
                raise duplicate
            organisation = Organisation(code=cmd.code, name=cmd.name, kind=cmd.kind,
                                        parent_id=cmd.parent_id, path=path.model_dump(),
                                        meta=ctx.meta(path))
            # The view's check above is the polite answer; this reservation is the one the
            # database enforces, whatever another replica does at the same moment.
            try:
                with self.engine.begin() as conn:
                    claims.claim_path(conn, str(path), organisation.id)
            except sa.exc.IntegrityError as exc:
                raise duplicate from exc
            self._save_or_undo([organisation], lambda conn: claims.release(conn, organisation.id))
            log.info("registry.organisation_registered", organisation_id=str(organisation.id),
                     path=str(path), kind=cmd.kind)
            return organisation.id

    def _parent_row(self, organisation_id: UUID) -> sa.Row[Any]:
        return self.fresh(lambda: self.organisation_row(organisation_id))

    def declare_contingent(self, ctx: CommandContext, organisation_id: UUID,
                           cmd: DeclareContingent) -> None:
        path = OrgPath.parse(self._parent_row(organisation_id).path)
        ctx.actor.require_write(path)
        figures = cmd.model_dump(exclude={"school_year"})

        def attempt() -> None:
            organisation: Organisation = self.events.repository.get(organisation_id)
            organisation.declare_contingent(cmd.school_year, figures, meta=ctx.meta(path))
            self._save(organisation)
        self.retrying(attempt)

    def list_organisations(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.organisations)
                                .order_by(views.organisations.c.path)).all()
        return [organisation_json(r) for r in rows
                if scope.contains(OrgPath.parse(r.path)) and actor.can_read(OrgPath.parse(r.path))]

    def get_organisation(self, actor: Actor, organisation_id: UUID) -> dict[str, Any]:
        row = self.organisation_row(organisation_id)
        actor.require_read(OrgPath.parse(row.path))
        with self.engine.connect() as conn:
            figures = conn.execute(sa.select(views.contingents).where(
                views.contingents.c.organisation_id == organisation_id)).all()
        return {**organisation_json(row),
                "contingents": {f.school_year: f.figures for f in figures}}

    # --- people ---------------------------------------------------------------------------------

    def register_people(self, ctx: CommandContext,
                        commands: Sequence[RegisterMentor | RegisterMentee]) -> list[UUID]:
        """All or nothing: one event-store transaction for every person of the batch."""
        with self.sharing_start_up():
            organisations = {o: self._parent_row(o) for o in {c.organisation_id for c in commands}}
            prepared = [self._prepare_person(ctx, cmd, organisations[cmd.organisation_id])
                        for cmd in commands]
            claims = [claim for _, claim in prepared]
            keys = {(c["organisation_id"], c["fingerprint"]) for c in claims}
            if len(keys) != len(claims):
                raise conflict("DUPLICATE_PERSON", "В пакете один и тот же человек указан дважды")
            try:
                with self.engine.begin() as conn:
                    taken = {row.fingerprint for row in conn.execute(
                        sa.select(person_claims.c.fingerprint).where(
                            sa.tuple_(person_claims.c.organisation_id, person_claims.c.fingerprint)
                            .in_(list(keys))))}
                    if taken:
                        error = conflict("DUPLICATE_PERSON", "Такой человек (ФИО и дата рождения) "
                                         "уже есть в базе этой организации")
                        error.details = [{"index": i} for i, c in enumerate(claims)
                                         if c["fingerprint"] in taken]
                        raise error
                    conn.execute(person_claims.insert(), claims)
                    keys = self.vault.new_keys(conn, [c["person_id"] for c in claims])
                    people = [build(keys[claim["person_id"]]) for build, claim in prepared]
            except sa.exc.IntegrityError as exc:
                raise conflict("DUPLICATE_PERSON", "Такой человек уже есть в базе организации") \
                    from exc
            # Claims and keys go only if the people were not stored: once they are, a later
            # failure (the view's catch-up) must not take away the key of a stored person.
            ids = [p.id for p in people]
            self._save_or_undo(people, lambda conn: self.vault.forget(conn, ids))
            log.info("registry.people_registered", count=len(people),
                     actor=ctx.actor.user, correlation_id=str(ctx.correlation_id))
            return [p.id for p in people]

    def import_people(self, ctx: CommandContext, organisation_id: UUID, role: PersonRole,
                      data: bytes, filename: str) -> list[UUID]:
        """A whole file or nothing: every bad row is reported with its line and reason."""
        organisation = self.organisation_row(organisation_id)
        ctx.actor.require_write(OrgPath.parse(organisation.path))
        # Parsing runs in a bounded worker process: a hostile file costs the worker, not us.
        result = run_isolated(validate_import, data, filename, role, self.today())
        errors = [{"line": e.line, "column": e.column, "code": e.code, "message": e.message_ru}
                  for e in result.errors]
        commands: list[RegisterMentor | RegisterMentee] = []
        lines: list[int] = []
        for row in result.rows:
            if row.organisation_code and row.organisation_code.lower() != organisation.code:
                errors.append({"line": row.line, "column": "ОО", "code": "ORGANISATION_MISMATCH",
                               "message": f"Строка относится к другой организации "
                                          f"({row.organisation_code}), а загрузка — в {organisation.code}"})
                continue
            try:
                commands.append(command_from_row(row, organisation_id))
                lines.append(row.line)
            except ValueError as exc:
                errors.append({"line": row.line, "column": None, "code": "INVALID_ROW",
                               "message": row_problem(exc)})
        if errors or not commands:
            raise import_error(errors or [{"line": None, "column": None, "code": "EMPTY_FILE",
                                           "message": "В файле нет строк с данными"}])
        try:
            # Ten thousand people are a million live objects for a few seconds: no collector
            # pauses over them, and no other bulk work competing for the GIL (shared/memory.py).
            with bulk_work():
                return self.register_people(ctx, commands)
        except DomainError as exc:
            if exc.code != "DUPLICATE_PERSON":
                raise
            raise import_error([{"line": lines[d["index"]], "column": "ФИО", "code": exc.code,
                                 "message": "Этот человек уже есть в базе организации"}
                                for d in exc.details]) from exc

    def _prepare_person(self, ctx: CommandContext, cmd: RegisterMentor | RegisterMentee,
                        organisation: sa.Row[Any]) -> tuple[Callable[[bytes], Person], dict[str, Any]]:
        path = OrgPath.parse(organisation.path)
        ctx.actor.require_write(path)
        data = cmd.person
        check_consent(cmd.role, cmd.category, data.birth_date, self.today(),
                      cmd.consent_given_by, bool(data.guardian_name))
        person_id = uuid4()
        fingerprint = self.vault.fingerprint(data.last_name, data.first_name, data.middle_name,
                                             data.birth_date.isoformat())
        claim = {"organisation_id": cmd.organisation_id, "fingerprint": fingerprint,
                 "person_id": person_id}
        personal = {**data.model_dump(mode="json"), "class_letter": cmd.class_letter}
        meta = ctx.meta(path)

        def build(key: bytes) -> Person:
            sealed = Vault.seal_with(key, person_id, personal)
            common = {"id": person_id, "organisation_id": cmd.organisation_id,
                      "category": cmd.category, "birth_year": data.birth_date.year,
                      "sealed": sealed, "meta": meta}
            if isinstance(cmd, RegisterMentor):
                person = Person.register_mentor(**common, competencies=cmd.competencies,
                                                capacity=cmd.capacity, grade=cmd.grade)
            else:
                minor = is_minor(data.birth_date, self.today())
                person = Person.register_mentee(**common, grade=cmd.grade,
                                                requests=cmd.requests, minor=minor)
            person.record_consent(given_by=cmd.consent_given_by, meta=meta)
            return person

        return build, claim

    def withdraw_consent(self, ctx: CommandContext, person_id: UUID, cmd: WithdrawConsent) -> None:
        self.retrying(lambda: self._withdraw_consent(ctx, person_id, cmd))

    def _withdraw_consent(self, ctx: CommandContext, person_id: UUID, cmd: WithdrawConsent) -> None:
        row = self.fresh(lambda: self._person_row(person_id))
        path = OrgPath.parse(row.path)
        ctx.actor.require_record_write(path, not_found("Участник", "PERSON_NOT_FOUND"))
        person: Person = self.events.repository.get(person_id)
        with self.engine.connect() as conn:  # the reason is kept without the name
            personal = self.vault.open(conn, person_id, row.sealed)
        person.withdraw_consent(cmd.reason, meta=ctx.meta(path), personal=personal)
        # The event first, then the key: a key destroyed for a withdrawal that was never
        # stored would lose the person's data while the registry still counts their
        # consent. Applying ConsentWithdrawn to the view destroys the key too, so a crash
        # in between is finished by the next catch-up (at the latest, at start). Once the
        # command returns, the key is gone.
        self.events.save(person)
        try:
            with self.engine.begin() as conn:
                self.vault.shred(conn, person_id)
        finally:
            self._after_stored()
        self.invitations.end_access(person_id)
        if not self.vault.purge_deleted():
            log.warning("registry.key_purge_deferred", person_id=str(person_id))
        log.info("registry.consent_withdrawn", person_id=str(person_id),
                 actor=ctx.actor.user, correlation_id=str(ctx.correlation_id))

    def _person_row(self, person_id: UUID) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(views.people).where(views.people.c.id == person_id)).first()
        if row is None:
            raise not_found("Участник", "PERSON_NOT_FOUND")
        return row

    def _disclosed(self, conn: sa.Connection, actor: Actor,
                   row: sa.Row[Any]) -> tuple[dict[str, Any], PersonalView, bool]:
        """The person as ``actor`` may see them: unsealed here only to decide, then cut to the
        view the one policy (``shared.auth.personal_data_view``) allows."""
        personal = self.vault.open(conn, row.id, row.sealed)
        protected = disclosure.is_protected(row, personal, self.today())
        view = personal_data_view(actor, OrgPath.parse(row.path), protected=protected,
                                  names_visible_to=self.settings.names_visible_to)
        label = self.vault.label(row.id, row.role)
        return disclosure.person_json(row, personal, view, label), view, protected

    @staticmethod
    def _named(person: dict[str, Any], view: PersonalView) -> bool:
        """A read that showed who the person is (recorded as a read of personal data)."""
        return view in disclosure.NAMING_VIEWS and person["personal"] is not None

    def get_person(self, actor: Actor, person_id: UUID,
                   purpose: str | None = "person_card") -> dict[str, Any]:
        """``purpose`` None: the caller records the access itself (a batch of lookups, say)."""
        return self._read_person(actor, person_id, purpose)[0]

    def _read_person(self, actor: Actor, person_id: UUID,
                     purpose: str | None) -> tuple[dict[str, Any], PersonalView, bool]:
        row = self._person_row(person_id)
        if not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Участник", "PERSON_NOT_FOUND")  # a denial must not reveal existence
        with self.engine.connect() as conn:
            found, view, protected = self._disclosed(conn, actor, row)
        if purpose and self._named(found, view):
            self.record_access(actor, {row.path: [row.id]}, purpose)
        return found, view, protected

    def record_access(self, actor: Actor, people_by_path: dict[str, list[UUID]], purpose: str) -> None:
        """Log who read whose personal data: one ``PersonalDataAccessed`` per organisation and
        thousand people."""
        ctx = CommandContext(actor)
        step = ACCESS_RECORD_MAX_PEOPLE
        records = [PersonalDataAccess(person_ids=ids[i:i + step], purpose=purpose,
                                      meta=ctx.meta(OrgPath.parse(path)))
                   for path, ids in people_by_path.items() for i in range(0, len(ids), step)]
        if records:
            with self._lock:
                self._save(*records)

    def list_people(self, actor: Actor, organisation_id: UUID, role: str | None = None,
                    search: str | None = None) -> list[dict[str, Any]]:
        path = OrgPath.parse(self.organisation_row(organisation_id).path)
        actor.require_read(path)
        query = sa.select(views.people).where(views.people.c.organisation_id == organisation_id)
        if role:
            query = query.where(views.people.c.role == role)
        with self.engine.connect() as conn:
            found = [self._disclosed(conn, actor, r)[:2] for r in conn.execute(query).all()]
        if search:
            needle = search.strip().lower()
            found = [(p, v) for p, v in found if disclosure.matches(p, needle)]
        self.record_access(actor, {str(path): [UUID(p["id"]) for p, v in found if self._named(p, v)]},
                           "people_list")
        return sorted((p for p, _ in found), key=disclosure.sort_key)

    # --- programmes -----------------------------------------------------------------------------

    def launch_programme(self, ctx: CommandContext, cmd: LaunchProgramme) -> UUID:
        path = OrgPath.parse(self._parent_row(cmd.organisation_id).path)
        ctx.actor.require_write(path)
        forms.check_programme_form(self, path.region, cmd.form)
        programme = Programme(organisation_id=cmd.organisation_id, form=cmd.form,
                              school_year=cmd.school_year, curator=cmd.curator,
                              meta=ctx.meta(path))
        self._save(programme)
        return programme.id

    def list_programmes(self, actor: Actor, organisation_id: UUID) -> list[dict[str, Any]]:
        path = OrgPath.parse(self.organisation_row(organisation_id).path)
        actor.require_read(path)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.programmes).where(
                views.programmes.c.organisation_id == organisation_id)).all()
        return [{"id": str(r.id), "organisation_id": str(r.organisation_id), "form": r.form,
                 "school_year": r.school_year, "curator": r.curator} for r in rows]


def organisation_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "code": row.code, "name": row.name, "kind": row.kind,
            "parent_id": str(row.parent_id) if row.parent_id else None, "path": row.path}
