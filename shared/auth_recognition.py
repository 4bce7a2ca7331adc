"""The policy for recognition of mentors' work: best practices offered to the bank and reviewed
above, «Наставник года» nominations and «Школа наставников» training. Part of the one policy
(``shared.auth``), kept apart so each module stays readable.
"""

from __future__ import annotations

from uuid import UUID

from shared.auth import Actor, OrgPath, Role, participant_id
from shared.errors import forbidden


def _require_curator_of(actor: Actor, path: OrgPath, refusal: str) -> None:
    if actor.role is not Role.CURATOR:
        raise forbidden(refusal)
    actor.require_write(path)


def require_practice_author(actor: Actor, path: OrgPath) -> None:
    _require_curator_of(actor, path, "Практику в банк предлагает куратор организации")


def can_review_practice(actor: Actor, path: OrgPath) -> bool:
    """A municipality (or the region) above the organisation, never the organisation itself."""
    if actor.role not in (Role.MUNICIPAL, Role.REGIONAL) or not actor.can_write(path):
        return False
    return actor.scope != path


def require_practice_reviewer(actor: Actor, path: OrgPath) -> None:
    if not can_review_practice(actor, path):
        raise forbidden("Практику рассматривает вышестоящий уровень: муниципалитет или регион")


def require_nominator(actor: Actor, path: OrgPath) -> None:
    """«Наставник года»: an organisation nominates its own mentors, through its curator."""
    _require_curator_of(actor, path, "Наставника на конкурс выдвигает куратор его организации")


def can_judge_nomination(actor: Actor, path: OrgPath, stage: str) -> bool:
    """The municipal stage: the municipality above the school (or the region); the regional: the region."""
    role = Role.MUNICIPAL if stage == "municipality" else Role.REGIONAL
    if actor.role not in (role, Role.REGIONAL) or not actor.can_write(path):
        return False
    return actor.scope != path and (stage == "municipality" or actor.scope.municipality is None)


def require_training_publisher(actor: Actor, path: OrgPath) -> None:
    """«Школа наставников»: a municipality or the region publishes for its own territory."""
    if actor.role not in (Role.MUNICIPAL, Role.REGIONAL) or path.organisation is not None:
        raise forbidden("Материалы школы наставников публикует муниципалитет или регион")
    actor.require_write(path)


def training_mentor(actor: Actor) -> UUID:
    """A material is marked completed by the mentor themself, signed in as a participant."""
    mentor = participant_id(actor)
    if mentor is None:
        raise forbidden("Отметить прохождение обучения может только сам наставник")
    return mentor


def require_training_confirmer(actor: Actor, path: OrgPath) -> None:
    """A mentor's completion is confirmed by the curator of the mentor's organisation."""
    _require_curator_of(actor, path, "Прохождение обучения подтверждает куратор организации наставника")


def require_nomination_judge(actor: Actor, path: OrgPath, stage: str) -> None:
    if not can_judge_nomination(actor, path, stage):
        raise forbidden("Муниципальный этап судит муниципалитет, региональный — региональный оператор")
