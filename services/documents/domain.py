"""The documents service's domain: issued documents, tracked roadmaps, practices, reports. No I/O.

Events hold ids and non-personal attributes only; the public payload of each (shared/events.py)
is what leaves the service. Names printed in a document are never stored by this service: a
document naming registry persons is kept as its recipe (ids) and rendered again at download.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.errors import DomainError
from shared.store import EventSourcedAggregate

ItemStatus = Literal["planned", "in_progress", "done", "overdue"]
ReportLevel = Literal["organisation", "municipality", "region"]
REPORT_NAMESPACE = uuid5(NAMESPACE_URL, "nastavnik:documents:report")
REPORT_DOCUMENT_NAMESPACE = uuid5(NAMESPACE_URL, "nastavnik:documents:report-document")
#: Days before a roadmap item's due date a reminder goes out (0: on the day itself).
REMINDER_DAYS = (14, 7, 1, 0)


class IssuedDocument(EventSourcedAggregate):
    """A registered document: its number, date and the SHA-256 of the file that was issued."""

    @staticmethod
    def create_id(document_id: UUID) -> UUID:
        return document_id

    @event("DocumentIssued")
    def __init__(self, document_id: UUID, kind: str, number: str, date: str, content_sha256: str,
                 subject_ids: list[UUID], title: str, meta: dict[str, Any]) -> None:
        self.kind = kind
        self.number = number
        self.date = date
        self.content_sha256 = content_sha256
        self.subject_ids = subject_ids
        self.title = title


@dataclass(frozen=True)
class Mark:
    """Where one deadline of an item stands: its status and the document given as evidence."""

    status: ItemStatus = "planned"
    evidence_document_id: UUID | None = None


#: The key of the one mark of an item without due dates (continuous, or a deadline not read).
WHOLE_ITEM = ""


def item_due_dates(entry: Mapping[str, Any]) -> list[str]:
    """An item's deadlines as tracked: each date once, earliest first (ISO text sorts by date)."""
    return sorted(set(entry.get("due_dates") or ()))


def open_due_date(dates: Sequence[str], marks: Mapping[str, Mark]) -> str | None:
    """The earliest deadline not done: the one that is due next, or overdue."""
    return next((d for d in dates if marks[d].status != "done"), None)


def resolve_due_date(dates: Sequence[str], marks: Mapping[str, Mark],
                     due_date: str | None) -> str:
    """The deadline an update without a date is for. Version 1 of ``RoadmapItemUpdated`` had no
    date: it meant the item, i.e. its earliest deadline not done (or, all done, the last one); the
    API reads a request without a date the same way. Domain and view both resolve through here."""
    if due_date is not None:
        return due_date
    if not dates:
        return WHOLE_ITEM
    return open_due_date(dates, marks) or dates[-1]


def item_summary(dates: Sequence[str], marks: Mapping[str, Mark]) -> Mark:
    """The item as one status (the roadmap JSON's ``status`` and ``evidence_document_id``): the
    mark of its earliest deadline not done, or of its last one once every deadline is done."""
    return marks[resolve_due_date(dates, marks, None)]


class TrackedRoadmap(EventSourcedAggregate):
    """An imported roadmap whose items move planned → in progress → done (with evidence).

    A repeating item («ежегодно») has a deadline each year: each deadline is tracked on its own,
    so the 2022 evidence closes 2022 only and 2023 still comes due and can be overdue. An item
    without due dates is tracked as a whole (``WHOLE_ITEM``).
    """

    @staticmethod
    def create_id(roadmap_id: UUID) -> UUID:
        return roadmap_id

    @event("RoadmapImported")
    def __init__(self, roadmap_id: UUID, title: str, period_start: str, period_end: str,
                 items: int, entries: list[dict[str, Any]], source_name: str,
                 meta: dict[str, Any], source_sha256: str | None = None,
                 corrections: list[dict[str, Any]] | None = None) -> None:
        """``corrections``: the items the user corrected in the review, by id and field name
        (``review.reviewed_entries``); ``source_sha256`` the file reviewed. Both stay in this
        service's store: the event on the bus carries neither (``shared.events``)."""
        self.title = title
        self.source_sha256 = source_sha256
        self.corrections = corrections or []
        self.period_start = period_start
        self.period_end = period_end
        self.entries = entries
        self.dates: dict[str, list[str]] = {
            item_id(i): item_due_dates(entry) for i, entry in enumerate(entries)}
        self.marks: dict[str, dict[str, Mark]] = {
            key: {d: Mark() for d in dates or [WHOLE_ITEM]} for key, dates in self.dates.items()}
        self.reminded: set[str] = set()

    def summary(self, item: str) -> Mark:
        return item_summary(self.dates[item], self.marks[item])

    def update_item(self, item: str, status: ItemStatus, evidence_document_id: UUID | None,
                    meta: dict[str, Any], due_date: str | None = None) -> bool:
        """Change the status of one deadline of an item: the named one, else the earliest not
        done. False when nothing would change (so no event is stored)."""
        if item not in self.marks:
            raise DomainError("ROADMAP_ITEM_NOT_FOUND", "Мероприятие дорожной карты не найдено", 404)
        if status == "done" and evidence_document_id is None:
            raise DomainError("EVIDENCE_REQUIRED",
                              "Отметить мероприятие выполненным можно только с подтверждающим "
                              "документом", 422)
        if status == "overdue":
            raise DomainError("INVALID_STATUS",
                              "Статус «просрочено» ставится автоматически по сроку", 422)
        dates, marks = self.dates[item], self.marks[item]
        if due_date is not None and due_date not in dates:
            raise DomainError("ROADMAP_DUE_DATE_NOT_FOUND",
                              "У мероприятия нет такого срока: укажите один из его сроков "
                              "(due_dates)", 422)
        if due_date is None and dates:
            if status == "done" and any(m.evidence_document_id == evidence_document_id
                                        for m in marks.values() if m.status == "done"):
                # A repeated request (a retry) must not close next year's deadline as well.
                return False
            if open_due_date(dates, marks) is None:
                raise DomainError("ROADMAP_ITEM_ALREADY_DONE",
                                  "Все сроки мероприятия уже отмечены выполненными; чтобы "
                                  "изменить отметку, укажите срок (due_date)", 409)
        key = resolve_due_date(dates, marks, due_date)
        if marks[key] == Mark(status, evidence_document_id):
            return False
        self._item_updated(roadmap_id=self.id, item_id=item, status=status,
                           evidence_document_id=evidence_document_id, meta=meta,
                           due_date=key if key != WHOLE_ITEM else None)
        return True

    def overdue_items(self, today: date) -> list[tuple[str, str]]:
        """(item, due date) for every deadline passed and not done (nor already marked overdue)."""
        return [(key, d) for key, dates in self.dates.items() for d in dates
                if date.fromisoformat(d) < today
                and self.marks[key][d].status in ("planned", "in_progress")]

    def mark_overdue(self, today: date, meta: dict[str, Any]) -> list[tuple[str, str]]:
        late = self.overdue_items(today)
        for key, due in late:
            self._item_updated(roadmap_id=self.id, item_id=key, status="overdue",
                               evidence_document_id=None, meta=meta, due_date=due)
        return late

    def due_reminders(self, today: date) -> list[tuple[str, str, int, int]]:
        """(item, due date, reminder, days left) not yet sent: for each item, its nearest deadline
        to come that is not done, with the latest reminder reached before it, so a sweep that was
        down sends one."""
        found = []
        for key, dates in self.dates.items():
            upcoming = [d for d in dates if date.fromisoformat(d) >= today
                        and self.marks[key][d].status != "done"]
            if not upcoming:
                continue
            days_left = (date.fromisoformat(upcoming[0]) - today).days
            reached = [days for days in REMINDER_DAYS if days >= days_left]
            if reached and reminder_key(key, upcoming[0], min(reached)) not in self.reminded:
                found.append((key, upcoming[0], min(reached), days_left))
        return found

    def remind(self, today: date, meta: dict[str, Any]) -> int:
        reminders = self.due_reminders(today)
        for key, due, reminder, days_left in reminders:
            self._item_due(roadmap_id=self.id, item_id=key, due_date=due, days_left=days_left,
                           reminder=reminder, meta=meta)
        return len(reminders)

    @event("RoadmapItemDue")
    def _item_due(self, roadmap_id: UUID, item_id: str, due_date: str, days_left: int,
                  reminder: int, meta: dict[str, Any]) -> None:
        self.reminded.add(reminder_key(item_id, due_date, reminder))

    @event("RoadmapItemUpdated")
    def _item_updated(self, roadmap_id: UUID, item_id: str, status: ItemStatus,
                      evidence_document_id: UUID | None, meta: dict[str, Any],
                      due_date: str | None = None) -> None:
        # ``due_date`` is absent from events stored before it existed: the default reads them.
        marks = self.marks[item_id]
        marks[resolve_due_date(self.dates[item_id], marks, due_date)] = Mark(
            status, evidence_document_id)


def reminder_key(item: str, due_date: str, reminder: int) -> str:
    return f"{item}:{due_date}:{reminder}"


def item_id(index: int) -> str:
    """Items are addressed by their place in the document: numbers may be missing or repeat."""
    return str(index + 1)


class Practice(EventSourcedAggregate):
    """A practice for the bank: submitted by a curator, published or rejected by the level above."""

    @staticmethod
    def create_id(practice_id: UUID) -> UUID:
        return practice_id

    @event("PracticeSubmitted")
    def __init__(self, practice_id: UUID, form: str, tags: list[str], title: str,
                 description: str, submitted_by: str, meta: dict[str, Any]) -> None:
        self.form = form
        self.tags = tags
        self.title = title
        self.description = description
        self.submitted_by = submitted_by
        self.status = "submitted"

    def review(self, publish: bool, comment: str, meta: dict[str, Any]) -> None:
        if self.status != "submitted":
            raise DomainError("PRACTICE_ALREADY_REVIEWED", "Практика уже рассмотрена", 409)
        if publish:
            self._published(practice_id=self.id, form=self.form, tags=self.tags,
                            status="published", comment=comment, meta=meta)
        else:
            self._rejected(practice_id=self.id, form=self.form, tags=self.tags, comment=comment,
                           meta=meta)

    @event("PracticePublished")
    def _published(self, practice_id: UUID, form: str, tags: list[str],
                   status: Literal["published", "rejected"], comment: str,
                   meta: dict[str, Any]) -> None:
        # Always "published" now; a rejection stored before ``PracticeRejected`` existed says
        # "rejected" here and still reads as one.
        self.status = status
        self.comment = comment

    @event("PracticeRejected")
    def _rejected(self, practice_id: UUID, form: str, tags: list[str], comment: str,
                  meta: dict[str, Any]) -> None:
        self.status = "rejected"
        self.comment = comment


class Report(EventSourcedAggregate):
    """A report due from an organisation or territory: drafted on ``ReportDue``, then submitted."""

    @staticmethod
    def create_id(report_id: str, path: str) -> UUID:
        # One draft per report and organisation however many times ReportDue is (re)delivered.
        return report_uuid(report_id, path)

    @event("ReportDrafted")
    def __init__(self, report_id: str, path: str, level: ReportLevel, period: str, deadline: str,
                 meta: dict[str, Any]) -> None:
        self.report_id = report_id
        self.level = level
        self.period = period
        self.deadline = deadline
        self.submitted = False

    def submit(self, document_id: UUID, meta: dict[str, Any]) -> None:
        if self.submitted:
            raise DomainError("REPORT_ALREADY_SUBMITTED", "Отчёт уже сдан", 409)
        self._submitted(report_id=self.report_id, level=self.level, period=self.period,
                        document_id=document_id, meta=meta)

    @event("ReportSubmitted")
    def _submitted(self, report_id: str, level: ReportLevel, period: str, document_id: UUID,
                   meta: dict[str, Any]) -> None:
        self.submitted = True
        self.document_id = document_id


def report_uuid(report_id: str, path: str) -> UUID:
    return uuid5(REPORT_NAMESPACE, f"{path}|{report_id}")


def report_document_id(report: UUID) -> UUID:
    """The id of the one document a report is submitted as. Derived, not drawn: the event store
    holds one ``DocumentIssued`` per id, so a second submission cannot register a second report."""
    return uuid5(REPORT_DOCUMENT_NAMESPACE, str(report))



#: The stages of «Наставник года»: the municipality judges its schools' nominations first, and
#: the region judges the municipalities' winners.
NominationStage = Literal["municipality", "region"]
NominationDecision = Literal["shortlisted", "winner", "declined"]


class Nomination(EventSourcedAggregate):
    """A school's nomination of its mentor for «Наставник года», judged stage by stage: at each
    stage the judge may shortlist it, then name it a winner or decline it; a municipal winner
    goes on to the region. A decision once final (winner, declined) at a stage stays."""

    @staticmethod
    def create_id(nomination_id: UUID) -> UUID:
        return nomination_id

    @event("NominationSubmitted")
    def __init__(self, nomination_id: UUID, mentor_id: UUID, school_year: str,
                 justification: str, meta: dict[str, Any]) -> None:
        self.mentor_id = mentor_id
        self.school_year = school_year
        self.justification = justification
        self.decisions: dict[str, str] = {}

    def stage(self) -> NominationStage | None:
        """The stage that judges it now, or None once it is decided for good."""
        municipal = self.decisions.get("municipality")
        if municipal in (None, "shortlisted"):
            return "municipality"
        if municipal == "winner" and self.decisions.get("region") in (None, "shortlisted"):
            return "region"
        return None

    def decide(self, stage: NominationStage, decision: NominationDecision, comment: str,
               meta: dict[str, Any]) -> None:
        if self.stage() != stage:
            raise DomainError("NOMINATION_NOT_AT_STAGE",
                              "Выдвижение сейчас не на этом этапе: решение уже принято", 409)
        if decision == "shortlisted" and self.decisions.get(stage) == "shortlisted":
            raise DomainError("NOMINATION_ALREADY_SHORTLISTED", "Выдвижение уже в коротком списке", 409)
        self._decided(nomination_id=self.id, school_year=self.school_year, stage=stage,
                      decision=decision, comment=comment, meta=meta)

    @event("NominationDecided")
    def _decided(self, nomination_id: UUID, school_year: str, stage: NominationStage,
                 decision: NominationDecision, comment: str, meta: dict[str, Any]) -> None:
        self.decisions[stage] = decision


TRAINING_NAMESPACE = uuid5(NAMESPACE_URL, "nastavnik:documents:training")


class TrainingMaterial(EventSourcedAggregate):
    """«Школа наставников»: a material for mentors of one form of mentorship, published by a
    municipality or the region for the mentors of its territory."""

    @staticmethod
    def create_id(material_id: UUID) -> UUID:
        return material_id

    @event("TrainingMaterialPublished")
    def __init__(self, material_id: UUID, form: str, title: str, description: str, link: str | None,
                 meta: dict[str, Any]) -> None:
        self.form = form
        self.title = title
        self.description = description
        self.link = link


class TrainingCompletion(EventSourcedAggregate):
    """A mentor's completion of one material: marked by the mentor, confirmed by the curator of
    the mentor's organisation. One per mentor and material, however often it is marked."""

    @staticmethod
    def create_id(material_id: UUID, mentor_id: UUID) -> UUID:
        return training_completion_id(material_id, mentor_id)

    @event("TrainingCompleted")
    def __init__(self, material_id: UUID, mentor_id: UUID, meta: dict[str, Any]) -> None:
        self.material_id = material_id
        self.mentor_id = mentor_id
        self.confirmed = False

    def confirm(self, meta: dict[str, Any]) -> None:
        if self.confirmed:
            raise DomainError("TRAINING_ALREADY_CONFIRMED", "Прохождение уже подтверждено", 409)
        self._confirmed(material_id=self.material_id, mentor_id=self.mentor_id, meta=meta)

    @event("TrainingConfirmed")
    def _confirmed(self, material_id: UUID, mentor_id: UUID, meta: dict[str, Any]) -> None:
        self.confirmed = True


def training_completion_id(material_id: UUID, mentor_id: UUID) -> UUID:
    return uuid5(TRAINING_NAMESPACE, f"{material_id}|{mentor_id}")
