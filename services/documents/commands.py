"""What a user can ask the documents service to do, validated before anything is stored.

An issuing command names registry persons by id, never by name: the names are asked of the
registry for the acting user when the document is rendered. The same models, read back from
their JSON, are the recipes of the documents they issue (``recipes``).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import Field, field_validator, model_validator

from services.documents.domain import ItemStatus, NominationDecision, NominationStage
from services.documents.render import Requisites, Signatory
from services.documents.review import RoadmapReviewIn
from services.documents.roadmap import Roadmap, RoadmapParseError, parse_roadmap_upload
from services.documents.roadmap.reading import convert_to_docx, sniff
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.inputs import WHITESPACE, StrippedInput
from shared.isolation import run_isolated
from shared.uploads import MAX_UPLOAD_BYTES, check_zip_bomb
from shared.values import WorkDate


def parse_path(text: str) -> OrgPath:
    try:
        return OrgPath.parse(text)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc


class Body(StrippedInput):
    pass


_LINK_CHAR = f"[^{WHITESPACE}\\u0000]"
#: A web address of at most 500 characters, without spaces: the length is in the pattern, as
#: the model checks it on the stripped text (``shared.inputs``).
LINK_PATTERN = f"^(?:http://{_LINK_CHAR}{{1,493}}|https://{_LINK_CHAR}{{1,492}})$"


# --- issued documents ------------------------------------------------------------------------------

class SignatoryIn(Body):
    position: str = Field(min_length=2, max_length=200, examples=["Директор"])
    full_name: str = Field(min_length=3, max_length=200, examples=["Смирнова Ирина Петровна"])


class IssuerIn(Body):
    """Who issues: the organisation's name and place as printed, and who signs."""

    organisation_name: str = Field(min_length=2, max_length=500)
    parent_organisation: str | None = Field(default=None, max_length=500)
    place: str = Field(default="", max_length=200)
    signatory: SignatoryIn

    def requisites(self, number: str, day: date) -> Requisites:
        return Requisites(organisation_name=self.organisation_name, number=number, date=day,
                          place=self.place, parent_organisation=self.parent_organisation,
                          signatory=Signatory(self.signatory.position, self.signatory.full_name))


class IssueIn(IssuerIn):
    org: str = Field(description="Путь организации: регион/муниципалитет/организация")


class PairIn(Body):
    """A pair (group) formed in the pairing service, by its id. The mentor, mentees and form are
    taken from there; any of them given here must be what the pairing has (the order of mentees
    and the form's wording as given are kept for print)."""

    pair_id: UUID
    mentor_id: UUID | None = None
    mentee_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=30)
    form: str | None = Field(default=None, min_length=2, max_length=100)


#: An organisation's own order number: letters, digits and - / . between them («112-о», «45/2-од»).
ORDER_NUMBER_PATTERN = r"^[0-9A-Za-zА-Яа-яЁё](?:[0-9A-Za-zА-Яа-яЁё./ -]*[0-9A-Za-zА-Яа-яЁё.])?$"


class GivenRequisitesIn(Body):
    """The number and date the organisation gives an order in its own journal; without them the
    register numbers it in its series and dates it today."""

    number: str | None = Field(default=None, max_length=32, examples=["112-о"], description=(
        "Номер приказа, как его даёт организация; без него — следующий номер по журналу"))
    date: WorkDate | None = Field(default=None, description="Дата приказа; без неё — сегодня")

    @field_validator("number")
    @classmethod
    def _bare_number(cls, value: str | None) -> str | None:
        # «№ 112-о» is printed as «№ 112-о»: the sign is the template's, not the number's.
        number = value.lstrip("№N ").strip() if value is not None else ""
        if number and not re.fullmatch(ORDER_NUMBER_PATTERN, number):
            raise ValueError(f"«{number}» — не номер приказа: допустимы буквы, цифры, дефис, "
                             "точка и косая черта, например «112-о»")
        return number or None


class PairsOrderIn(GivenRequisitesIn, IssueIn):
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    pairs: list[PairIn] = Field(min_length=1, max_length=2000)


class CuratorOrderIn(GivenRequisitesIn, IssueIn):
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    curator_name: str = Field(min_length=3, max_length=200)
    curator_position: str = Field(min_length=2, max_length=200)
    forms: list[str] = Field(default_factory=list, max_length=20)


class AwardIn(Body):
    mentor_id: UUID
    merit: str = Field(min_length=2, max_length=500)
    award: str = Field(default="объявить благодарность", max_length=300)


class AwardOrderIn(IssueIn):
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    awards: list[AwardIn] = Field(min_length=1, max_length=500)


class ThanksLetterIn(IssueIn):
    person_id: UUID | None = None
    addressee: str | None = Field(default=None, max_length=300,
                                  description="Адресат не из реестра (например, партнёр)")
    text: str = Field(min_length=10, max_length=5000)

    @model_validator(mode="after")
    def _one_addressee(self) -> ThanksLetterIn:
        if (self.person_id is None) == (self.addressee is None):
            raise ValueError("укажите либо участника (person_id), либо адресата (addressee)")
        return self


class ConsentIn(IssueIn):
    person_id: UUID


class DevelopmentPlanIn(IssueIn):
    """A pair's individual development plan (персонализированная программа наставничества):
    the pair by id; its members, form and goals are taken from the pairing service."""

    pair_id: UUID
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")


# --- reports ---------------------------------------------------------------------------------------

class ReportTextIn(IssuerIn):
    """What the issuer writes into a report: the territory as printed and the conclusions.

    Every figure comes from the monitoring dashboard of the reporting unit (``report_content``),
    so a report holds exactly what its dashboard shows; none is taken from the request.
    """

    territory: str = Field(min_length=2, max_length=300)
    conclusions: list[str] = Field(default_factory=list, max_length=50)


class ReportIn(ReportTextIn):
    org: str
    period: str = Field(min_length=4, max_length=100)


# --- roadmaps --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportRoadmap:
    """A roadmap file as uploaded: read up to one byte past the limit, so an oversize file shows."""

    org: str
    data: bytes
    filename: str

    def roadmap(self) -> Roadmap:
        """The roadmap the file holds (a DOCX, or a text export), or why it cannot be read."""
        if len(self.data) > MAX_UPLOAD_BYTES:
            raise DomainError("FILE_TOO_LARGE", "Файл больше 10 МБ", 413)
        if not self.data.strip():
            raise DomainError("EMPTY_FILE", "Файл пуст", 422)
        check_zip_bomb(self.data)  # before python-docx inflates anything
        try:
            return read_roadmap(self.data, self.filename)
        except RoadmapParseError as exc:
            raise DomainError(exc.code, str(exc), exc.status) from exc


@dataclass(frozen=True)
class ConfirmRoadmap(ImportRoadmap):
    """The file once more, with its parse as the user reviewed it (``RoadmapReviewIn`` as JSON)."""

    review_json: str = ""

    def review(self) -> RoadmapReviewIn:
        return RoadmapReviewIn.from_json(self.review_json)


def read_roadmap(data: bytes, filename: str) -> Roadmap:
    """Parse in a bounded worker process (a hostile document costs the worker, not the server).

    LibreOffice's conversion of .doc/.odt/.rtf is already a process of its own with a timeout;
    it runs before, outside the worker's memory cap, which would not let soffice start."""
    kind = sniff(data)
    if kind in ("doc", "odt", "rtf"):
        with tempfile.TemporaryDirectory(prefix="nastavnik-roadmap-") as tmp:
            data = convert_to_docx(data, kind, Path(tmp)).read_bytes()
    return run_isolated(parse_roadmap_upload, data, filename)


class ItemUpdateIn(Body):
    status: ItemStatus
    evidence_document_id: UUID | None = None
    due_date: WorkDate | None = Field(
        default=None, description="Срок мероприятия, к которому относится отметка (один из "
        "due_dates); без него — ближайший невыполненный срок")


# --- the bank of best practices ------------------------------------------------------------

class PracticeIn(Body):
    org: str
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=10, max_length=20000)
    form: str = Field(min_length=2, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=30)


class ReviewIn(Body):
    decision: Literal["publish", "reject"]
    comment: str = Field(default="", max_length=2000)


# --- «Наставник года» ----------------------------------------------------------------------------

class NominationIn(Body):
    """A school nominates one of its mentors; the justification (free text) stays in the service."""

    org: str
    mentor_id: UUID
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    justification: str = Field(min_length=20, max_length=1000)


class NominationDecisionIn(Body):
    stage: NominationStage
    decision: NominationDecision
    comment: str = Field(default="", max_length=2000)


class NominationAwardsIn(IssueIn):
    """The award order (or the thanks letters) of a stage's winners, issued by its judge."""

    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")


# --- «Школа наставников» -------------------------------------------------------------------------

class TrainingMaterialIn(Body):
    org: str = Field(description="Территория, для наставников которой публикуется материал")
    form: str = Field(min_length=2, max_length=100)
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=10, max_length=20000)
    link: str | None = Field(default=None, pattern=LINK_PATTERN)
