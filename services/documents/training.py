"""«Школа наставников» as one part of the documents service layer (``application.DocumentsService``
is built on it): a municipality or the region publishes materials per form of mentorship for
the mentors of its territory; a mentor, signed in as a participant, marks a material completed;
the curator of the mentor's organisation confirms it. A confirmed completion makes the mentor
count as trained in monitoring (``TrainingConfirmed``, the indicator ``mentors_trained``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.documents import views
from services.documents.commands import TrainingMaterialIn, parse_path
from services.documents.domain import TrainingCompletion, TrainingMaterial, training_completion_id
from services.documents.peers import Peers
from shared.auth import (
    Actor,
    OrgPath,
    participant_id,
)
from shared.auth_recognition import (
    require_training_confirmer,
    require_training_publisher,
    training_mentor,
)
from shared.errors import DomainError, not_found
from shared.store import CommandContext, EventSourcedService


class TrainingDesk(EventSourcedService):
    peers: Peers

    def publish_material(self, ctx: CommandContext, body: TrainingMaterialIn) -> dict[str, Any]:
        path = parse_path(body.org)
        require_training_publisher(ctx.actor, path)
        material = TrainingMaterial(material_id=uuid4(), form=body.form, title=body.title,
                                    description=body.description, link=body.link,
                                    meta=ctx.meta(path))
        with self._lock:
            self._save(material)
        row = views.find(self.engine, views.training_materials, material.id)
        assert row is not None  # caught up by ``_save``
        return views.material_json(row)

    def materials(self, actor: Actor) -> list[dict[str, Any]]:
        """The materials for the user's mentors (published above or at the user's scope) and,
        for an official, those published beneath it."""
        table = views.training_materials
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.form, table.c.title)).all()
        return [views.material_json(r) for r in rows if self._material_visible(actor, r.path)]

    @staticmethod
    def _material_visible(actor: Actor, path: str) -> bool:
        where = OrgPath.parse(path)
        return where.contains(actor.scope) or actor.can_read(where)

    def complete_training(self, ctx: CommandContext, material_id: UUID) -> dict[str, Any]:
        """Marked once: a second mark answers with the completion as it stands."""
        mentor = training_mentor(ctx.actor)
        material = views.find(self.engine, views.training_materials, material_id)
        if material is None or not self._material_visible(ctx.actor, material.path):
            raise not_found("Материал", "MATERIAL_NOT_FOUND")
        completion_id = training_completion_id(material_id, mentor)
        with self._lock:
            if views.find(self.engine, views.training_completions, completion_id) is None:
                self._save(TrainingCompletion(material_id=material_id, mentor_id=mentor,
                                              meta=ctx.meta(ctx.actor.scope)))
        return self._completion(completion_id)

    def _completion(self, completion_id: UUID) -> dict[str, Any]:
        row = views.find(self.engine, views.training_completions, completion_id)
        assert row is not None
        return views.completion_json(row)

    def completions(self, actor: Actor) -> list[dict[str, Any]]:
        """A mentor's own; a curator's or an official's inside the scope."""
        table = views.training_completions
        mentor = participant_id(actor)
        query = sa.select(table).order_by(table.c.path)
        if mentor is not None:
            rows = views.in_scope(self.engine, query.where(table.c.mentor_id == mentor), actor.scope)
        else:
            actor.require_read(actor.scope)
            rows = views.in_scope(self.engine, query, actor.scope)
        return [views.completion_json(r) for r in rows]

    async def confirm_training(self, ctx: CommandContext, completion_id: UUID) -> dict[str, Any]:
        """The curator confirms; the person must be a mentor as the registry shows them."""
        row = views.find(self.engine, views.training_completions, completion_id)
        if row is None or not ctx.actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Отметка о прохождении", "COMPLETION_NOT_FOUND")
        path = OrgPath.parse(row.path)
        require_training_confirmer(ctx.actor, path)
        found = await self.peers.names(ctx.actor, [row.mentor_id])
        person = found.people.get(str(row.mentor_id))
        if person is None or person.role != "mentor":
            raise DomainError("NOT_A_MENTOR", "Прохождение подтверждается только наставнику "
                              "вашей организации", 422)
        with self._lock:
            completion: TrainingCompletion = self.events.repository.get(completion_id)
            completion.confirm(ctx.meta(path))
            self._save(completion)
        return self._completion(completion_id)
