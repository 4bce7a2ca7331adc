"""Names another service prints (an order, a consent form) but must never hold: the registry's
answer to ``shared.contracts.NAMES``, cut by the minimisation policy of ``shared.auth``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from services.registry import disclosure
from shared.auth import Actor, PersonalView, paired_mentor_view, require_names_reader
from shared.errors import DomainError
from shared.logging import get_logger

log = get_logger(__name__)


class DocumentNames:
    """Mixed into ``RegistryService``, whose reads and access records it uses."""

    engine: sa.Engine
    vault: Any
    today: Any

    if TYPE_CHECKING:  # what it uses of the service it is mixed into
        def _read_person(self, actor: Actor, person_id: UUID,
                         purpose: str | None) -> tuple[dict[str, Any], PersonalView, bool]:
            ...

        def _person_row(self, person_id: UUID) -> sa.Row[Any]:
            ...

        def organisation_row(self, organisation_id: UUID) -> sa.Row[Any]:
            ...

        def record_access(self, actor: Actor, people_by_path: dict[str, list[UUID]],
                          purpose: str) -> None:
            ...

    def names_for_document(self, actor: Actor, person_ids: Any,
                           paired_mentor_ids: Any = ()) -> dict[str, Any]:
        """Names another service prints (an order, a consent form) but must never hold: only the
        people ``actor`` may read, anyone else (or anyone whose consent was withdrawn)
        ``missing``; a child an official may not see by name comes as their label
        (``pseudonymous``). A read of names is recorded as any read of personal data is."""
        require_names_reader(actor)
        people: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        by_path: dict[str, list[UUID]] = {}
        paired = set(disclosure.document_person_ids(list(paired_mentor_ids)))
        for person_id in dict.fromkeys(disclosure.document_person_ids(person_ids)):
            try:
                person, view, protected = self._read_person(actor, person_id, None)  # in scope?
            except DomainError:
                found = self._paired_mentor(actor, person_id) if person_id in paired else None
                if found is None:
                    missing.append(str(person_id))
                    continue
                person, view, protected = found
            entry = disclosure.document_entry(person, view, protected)
            if entry is None:  # consent withdrawn (the data is shredded), or ids only
                missing.append(str(person_id))
                continue
            people[str(person_id)] = entry
            if not entry["pseudonymous"]:
                path = self.organisation_row(UUID(person["organisation_id"])).path
                by_path.setdefault(path, []).append(person_id)
        self.record_access(actor, by_path, "names_lookup")
        log.info("registry.names_served", actor=actor.user, served=len(people), missing=len(missing))
        return {"people": people, "missing": missing}

    def _paired_mentor(self, actor: Actor,
                       person_id: UUID) -> tuple[dict[str, Any], PersonalView, bool] | None:
        """Another organisation's mentor of a confirmed pair: the name alone, if the policy
        (``paired_mentor_view``) lets the pair grant it."""
        row = self._person_row(person_id)
        with self.engine.connect() as conn:
            personal = self.vault.open(conn, row.id, row.sealed)
        protected = disclosure.is_protected(row, personal, self.today())
        view = paired_mentor_view(actor, protected=protected) if row.role == "mentor" else None
        if view is None:
            return None
        label = self.vault.label(row.id, row.role)
        return disclosure.person_json(row, personal, view, label), view, protected

