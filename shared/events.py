"""The event catalogue: what each event says on the bus, and which version of that it is.

A payload model lists exactly the fields that may leave a service; anything else an event holds
inside its own store (ciphertext of personal data, say) is dropped on the way out. Old schema
versions stay readable through upcasters that lift them to the current model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from shared.contracts import Envelope


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- registry -------------------------------------------------------------------------------

OrganisationKind = Literal[
    "region", "municipality", "school", "college", "additional", "university", "employer",
    "culture", "sport", "other_partner",
]


class OrganisationRegistered(Payload):
    code: str
    name: str
    kind: OrganisationKind
    parent_id: UUID | None = None


class ContingentDeclared(Payload):
    school_year: str
    students_total: int = Field(ge=0)
    students_10_19: int = Field(ge=0)
    students_15_19: int = Field(ge=0)
    teachers_total: int = Field(ge=0)
    young_teachers: int = Field(ge=0)
    enterprises: int = Field(ge=0, default=0)


class MentorRegistered(Payload):
    """v2: a pupil-mentor's grade (None for other mentors and in version 1)."""

    organisation_id: UUID
    category: str
    competencies: list[str] = []
    capacity: int = 1
    birth_year: int
    grade: int | None = None


class MenteeRegistered(Payload):
    organisation_id: UUID
    category: str
    grade: int | None = None
    birth_year: int
    requests: list[str] = []
    minor: bool


class ConsentRecorded(Payload):
    given_by: Literal["self", "guardian"]


class ConsentWithdrawn(Payload):
    """v2: the reason (free text, may name people) stays in the registry."""


class FormsCatalogueConfigured(Payload):
    """The region's catalogue of forms of mentorship: the codes offered and their descriptions."""

    enabled: list[str]
    descriptions: dict[str, str]


class ProgrammeLaunched(Payload):
    """v2: the curator's name stays in the registry."""

    organisation_id: UUID
    form: str
    school_year: str


class PersonalDataAccessed(Payload):
    """Who read whose personal data (152-ФЗ): the envelope's actor read these people's data."""

    person_ids: list[UUID]
    purpose: str


# --- pairing --------------------------------------------------------------------------------

MeetingKind = Literal["intro", "trial", "planning", "regular", "final"]


class PairFormed(Payload):
    """A pair, or a group when ``mentee_ids`` has several members."""

    programme_id: UUID | None = None
    organisation_id: UUID
    form: str
    mentor_id: UUID
    mentee_ids: list[UUID]
    order_ref: str | None = None
    suggested: bool = False
    score: float | None = None


class PairProposed(Payload):
    """A pair with another organisation's mentor, waiting for that organisation's answer: not a
    pair yet (no place of the mentor taken, nothing to count)."""

    programme_id: UUID | None = None
    organisation_id: UUID  # the mentees' organisation, where the pair is filed
    form: str
    mentor_id: UUID
    mentor_organisation_id: UUID
    mentee_ids: list[UUID]
    order_ref: str | None = None
    suggested: bool = False
    score: float | None = None


class PairProposalConfirmed(PairFormed):
    """The mentor's organisation agreed: from now on an active pair. It repeats every field of
    ``PairFormed`` so a reader counts the pair from this event alone, once, at the mentees'
    organisation (where the envelope's path files it)."""

    mentor_organisation_id: UUID | None = None


class PairProposalDeclined(Payload):
    """The mentor's organisation refused; the reason (free text) stays in the pairing service."""

    returned_mentee_ids: list[UUID] = []


class PlanGoalSet(Payload):
    """v2: the goal's wording (free text) stays in the pairing service."""

    goal_id: UUID
    due: str | None = None
    status: Literal["planned", "in_progress", "done", "dropped"] = "planned"


class MeetingHeld(Payload):
    kind: MeetingKind
    date: str
    duration_minutes: int
    format: Literal["in_person", "online"]
    number: int


class FeedbackSubmitted(Payload):
    """v2: who answered (an id), so a figure over few people can be told from one over few
    answers; the free-text answers stay in the pairing service."""

    meeting_number: int
    side: Literal["mentor", "mentee"]
    satisfaction: int = Field(ge=1, le=10)
    respondent_id: UUID | None = None  # None in version 1


class PairCompleted(Payload):
    meetings: int


class PairDissolved(Payload):
    """v2: the curator's reason (free text) stays in the pairing service."""

    returned_mentee_ids: list[UUID] = []


# --- monitoring ------------------------------------------------------------------------------

class SurveyRecorded(Payload):
    survey: str
    stage: Literal["quality", "growth_entry", "growth_exit"]
    respondent_role: Literal["mentor", "mentee", "curator"]
    respondent_id: UUID | None = None
    pair_id: UUID | None = None
    form: str | None = None
    scores: dict[str, int]


class ReportDue(Payload):
    report_id: str
    level: Literal["organisation", "municipality", "region"]
    period: str
    deadline: str
    days_left: int
    overdue: bool = False


class ReportingCalendarOpened(Payload):
    """A region's reporting calendar for one year of deadlines, with the schedule in force."""

    region: str
    year: int
    schedule: dict[str, Any]


# --- documents -------------------------------------------------------------------------------

class DocumentIssued(Payload):
    document_id: UUID
    kind: str
    number: str
    date: str
    content_sha256: str
    subject_ids: list[UUID] = []


class ReportDrafted(Payload):
    """A report's draft was prepared (on ``ReportDue``), waiting for its figures and submission."""

    report_id: str
    level: Literal["organisation", "municipality", "region"]
    period: str
    deadline: str


class ReportSubmitted(Payload):
    report_id: str
    level: Literal["organisation", "municipality", "region"]
    period: str
    document_id: UUID | None = None


class RoadmapImported(Payload):
    roadmap_id: UUID
    title: str
    period_start: str
    period_end: str
    items: int


class RoadmapItemUpdated(Payload):
    """v2: ``due_date`` names the deadline of the item the status is for (an annual item is done
    year by year). None: an item without due dates, or an event stored before version 2, which
    meant the item's earliest due date not yet done when it happened."""

    roadmap_id: UUID
    item_id: str
    status: Literal["planned", "in_progress", "done", "overdue"]
    evidence_document_id: UUID | None = None
    due_date: str | None = None


class RoadmapItemDue(Payload):
    """A reminder: a roadmap item not yet done comes due in ``days_left`` days (0: today)."""

    roadmap_id: UUID
    item_id: str
    due_date: str
    days_left: int


class PracticeSubmitted(Payload):
    """A curator put a practice forward for the bank; the level above reviews it."""

    practice_id: UUID
    form: str
    tags: list[str] = []


class PracticePublished(Payload):
    """A practice entered the bank. Only published ones since ``PracticeRejected`` exists; events
    stored before say ``status: "rejected"`` for a rejection, so a consumer reads ``status``.

    The version stays 1: a service republishing its history stamps every stored event with the
    current version, so a bump could not tell an old rejection from a publication anyway."""

    practice_id: UUID
    form: str
    tags: list[str] = []
    status: Literal["submitted", "published", "rejected"]


class PracticeRejected(Payload):
    """The level above turned a practice down; the comment (free text) stays in the service."""

    practice_id: UUID
    form: str
    tags: list[str] = []


class NominationSubmitted(Payload):
    """A school nominated its mentor for «Наставник года»; the justification stays in the service."""

    nomination_id: UUID
    mentor_id: UUID
    school_year: str


class NominationDecided(Payload):
    """A stage's judge (the municipality, then the region) shortlisted a nomination, named it a
    winner or declined it; the comment stays in the service."""

    nomination_id: UUID
    school_year: str
    stage: Literal["municipality", "region"]
    decision: Literal["shortlisted", "winner", "declined"]


class TrainingMaterialPublished(Payload):
    """«Школа наставников»: a municipality or the region published a material for mentors of one
    form of mentorship; its title and text stay in the service."""

    material_id: UUID
    form: str


class TrainingCompleted(Payload):
    """A mentor marked a training material as completed."""

    material_id: UUID
    mentor_id: UUID


class TrainingConfirmed(Payload):
    """The curator of the mentor's organisation confirmed the completion: the mentor counts as
    trained (the indicator ``mentors_trained``)."""

    material_id: UUID
    mentor_id: UUID


class EventSpec(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: type[Payload]
    version: int = 1
    #: from_version -> function lifting a payload dict one version up
    upcasters: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def dropping(*fields: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An upcaster for a version that stopped publishing some fields."""
    return lambda data: {k: v for k, v in data.items() if k not in fields}


#: Free text (reasons, wordings, a curator's name) may name people, and what reaches the bus is
#: hash-chained in the audit log for good: from version 2 such fields stay in their service.
FREE_TEXT_DROPPED = {
    ConsentWithdrawn: ("reason",), ProgrammeLaunched: ("curator",), PlanGoalSet: ("title",),
    PairDissolved: ("reason",),
}

#: Events whose later versions only added optional fields: the defaults fill older ones in.
FIELDS_ADDED: dict[type[Payload], int] = {FeedbackSubmitted: 2, RoadmapItemUpdated: 2,
                                          MentorRegistered: 2}


def _spec(model: type[Payload]) -> EventSpec:
    if model in FREE_TEXT_DROPPED:
        return EventSpec(model=model, version=2, upcasters={1: dropping(*FREE_TEXT_DROPPED[model])})
    version = FIELDS_ADDED.get(model, 1)
    return EventSpec(model=model, version=version, upcasters=dict.fromkeys(range(1, version), dropping()))


CATALOGUE: dict[str, EventSpec] = {
    model.__name__: _spec(model)
    for model in (
        OrganisationRegistered, ContingentDeclared, MentorRegistered, MenteeRegistered,
        ConsentRecorded, ConsentWithdrawn, ProgrammeLaunched, PersonalDataAccessed,
        FormsCatalogueConfigured, PairFormed, PlanGoalSet, MeetingHeld, FeedbackSubmitted, PairCompleted,
        PairDissolved,
        PairProposed, PairProposalConfirmed, PairProposalDeclined,
        SurveyRecorded, ReportDue, ReportingCalendarOpened,
        DocumentIssued, ReportDrafted, ReportSubmitted, RoadmapImported, RoadmapItemUpdated,
        RoadmapItemDue, PracticeSubmitted, PracticePublished, PracticeRejected,
        NominationSubmitted, NominationDecided, TrainingMaterialPublished, TrainingCompleted,
        TrainingConfirmed,
    )
}


#: The service whose stream carries each event: the second token of its subject
#: (``shared.contracts.subject_for``). The AsyncAPI document (``shared/asyncapi.py``) is built from it.
PUBLISHED_BY: dict[str, str] = {
    **dict.fromkeys((
        "OrganisationRegistered", "ContingentDeclared", "MentorRegistered", "MenteeRegistered",
        "ConsentRecorded", "ConsentWithdrawn", "ProgrammeLaunched", "PersonalDataAccessed",
        "FormsCatalogueConfigured",
    ), "registry"),
    **dict.fromkeys((
        "PairFormed", "PlanGoalSet", "MeetingHeld", "FeedbackSubmitted", "PairCompleted",
        "PairDissolved", "PairProposed", "PairProposalConfirmed", "PairProposalDeclined",
    ), "pairing"),
    **dict.fromkeys(("SurveyRecorded", "ReportDue", "ReportingCalendarOpened"), "monitoring"),
    **dict.fromkeys((
        "DocumentIssued", "ReportDrafted", "ReportSubmitted", "RoadmapImported",
        "RoadmapItemUpdated", "RoadmapItemDue", "PracticeSubmitted", "PracticePublished",
        "PracticeRejected", "NominationSubmitted", "NominationDecided",
        "TrainingMaterialPublished", "TrainingCompleted", "TrainingConfirmed",
    ), "documents"),
}

def register(model: type[Payload], version: int = 1,
             upcasters: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] | None = None) -> None:
    """Services add their own events here at import time."""
    CATALOGUE[model.__name__] = EventSpec(model=model, version=version, upcasters=upcasters or {})


def spec_of(event_type: str) -> EventSpec:
    try:
        return CATALOGUE[event_type]
    except KeyError:
        # An event without a contract must never leave its service: it could carry anything.
        raise LookupError(f"event type {event_type!r} is not in the catalogue") from None


def schema_version(event_type: str) -> int:
    return spec_of(event_type).version


def public_payload(event_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    return spec_of(event_type).model.model_validate(fields).model_dump(mode="json")


def read_payload(envelope: Envelope) -> Payload:
    """The payload of any stored or received version, as the current model."""
    return _lifted(envelope.type, envelope.schema_version, envelope.payload)


def current_payload(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A decoded payload of any version as the current version's JSON fields.

    For readers of raw envelopes (a rebuild folds millions): only the payload is validated,
    not the envelope around it."""
    return _lifted(event_type, version, payload).model_dump(mode="json")


def _lifted(event_type: str, version: int, payload: Mapping[str, Any]) -> Payload:
    spec = spec_of(event_type)
    data = dict(payload)
    for old in range(version, spec.version):
        data = spec.upcasters[old](data)
    return spec.model.model_validate(data)
