"""The documents service layer on its own: an in-memory store and fake peers, no NATS, no HTTP.

Each test asks what a route would ask (one call on the service) and checks what the service
decided, what it stored, and which peer it asked what — a refusal of its own must cost no peer
a call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from services.documents import views
from services.documents.application import DocumentsService
from services.documents.commands import (
    AwardOrderIn,
    CuratorOrderIn,
    ImportRoadmap,
    PairsOrderIn,
    PracticeIn,
    ReportIn,
    ReportTextIn,
    ReviewIn,
)
from services.documents.consumers import ReportDueInbox
from services.documents.domain import report_document_id, report_uuid
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope, PairFound
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.documents.fakes import FakePeers, dashboard, memory_service, person

SCHOOL_A, SCHOOL_B, MUNICIPALITY = "demo/m1/school-a", "demo/m1/school-b", "demo/m1"
ISSUER = {"organisation_name": "МБОУ «Средняя школа № 1»", "place": "г. Озёрск",
          "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"}}
SCHOOL_ID = uuid4()
MENTOR, MENTEE = uuid4(), uuid4()


@pytest.fixture
def peers() -> FakePeers:
    return FakePeers(people={MENTOR: person("Кузнецов Пётр Андреевич", SCHOOL_ID),
                             MENTEE: person("Орлов Егор Ильич", SCHOOL_ID, "mentee")})


@pytest.fixture
def service(tmp_path: Path, peers: FakePeers) -> Iterator[DocumentsService]:
    documents = memory_service(tmp_path, peers)
    yield documents
    documents.close()


def as_(role: Role, scope: str) -> CommandContext:
    return CommandContext(Actor(user="tester", role=role, scope=OrgPath.parse(scope)))


def stored(service: DocumentsService) -> list[str]:
    return [type(service.events.mapper.to_domain_event(n)).__name__
            for n in service.events.notifications_after(0, 100)]


def award_order(org: str = SCHOOL_A) -> AwardOrderIn:
    return AwardOrderIn.model_validate({
        **ISSUER, "org": org, "school_year": "2025-2026",
        "awards": [{"mentor_id": str(MENTOR), "merit": "лучший наставник года"}]})


def pairs_order(pair_id: UUID) -> PairsOrderIn:
    return PairsOrderIn.model_validate({**ISSUER, "org": SCHOOL_A, "school_year": "2025-2026",
                                        "pairs": [{"pair_id": str(pair_id)}]})


def formed(path: str = SCHOOL_A, status: str = "active") -> PairFound:
    return PairFound(status=status, organisation_id=SCHOOL_ID, path=path, form="teacher-student",
                     form_title="Учитель – ученик", mentor_id=MENTOR, mentee_ids=[MENTEE])


# --- issuing ---------------------------------------------------------------------------------------

async def test_a_pairs_order_prints_the_pairs_as_pairing_formed_them(
        service: DocumentsService, peers: FakePeers) -> None:
    pair = uuid4()
    peers.pairs_formed[pair] = formed()
    issued = await service.issue_pairs_order(as_(Role.CURATOR, SCHOOL_A), pairs_order(pair))

    assert (issued["kind"], issued["number"], issued["path"]) == ("pairs_order", "1-н", SCHOOL_A)
    assert issued["subject_ids"] == [str(MENTOR), str(MENTEE)]
    curator = as_(Role.CURATOR, SCHOOL_A).actor  # asked for the acting user, not with a token
    assert peers.asked == [("pairs", curator, [pair]), ("names", curator, [MENTOR, MENTEE])]
    # Names are in the document, never in the store: only the recipe (ids) is kept.
    with service.engine.connect() as conn:
        files = conn.execute(sa.select(sa.func.count()).select_from(views.files)).scalar()
        recipe = conn.execute(sa.select(views.recipes.c.body)).scalar_one()
    assert files == 0 and "Кузнецов" not in str(recipe)
    assert recipe["pairs"][0]["form"] == "Учитель – ученик"
    assert stored(service) == ["DocumentIssued"]


async def test_a_pairs_order_with_a_foreign_pair_is_refused_before_any_name_is_asked(
        service: DocumentsService, peers: FakePeers) -> None:
    pair = uuid4()
    peers.pairs_formed[pair] = formed(path=SCHOOL_B)
    with pytest.raises(DomainError) as refused:
        await service.issue_pairs_order(as_(Role.CURATOR, SCHOOL_A), pairs_order(pair))
    assert (refused.value.code, refused.value.status) == ("PAIR_OF_ANOTHER_ORGANISATION", 422)
    assert refused.value.details == [{"pair_id": str(pair)}]
    assert peers.questions("names") == [] and stored(service) == []


async def test_a_pair_listed_twice_is_refused_before_pairing_is_asked(
        service: DocumentsService, peers: FakePeers) -> None:
    pair = uuid4()
    order = PairsOrderIn.model_validate({**pairs_order(pair).model_dump(mode="json"),
                                         "pairs": [{"pair_id": str(pair)}] * 2})
    with pytest.raises(DomainError) as refused:
        await service.issue_pairs_order(as_(Role.CURATOR, SCHOOL_A), order)
    assert refused.value.code == "DUPLICATE_PAIR" and peers.asked == []


@pytest.mark.parametrize(("role", "scope"), [
    (Role.CURATOR, SCHOOL_B), (Role.MUNICIPAL, "demo/m2"), (Role.AUDITOR, "demo"),
    (Role.PARTICIPANT, SCHOOL_A)])
async def test_issuing_for_another_school_is_refused_at_no_peers_cost(
        service: DocumentsService, peers: FakePeers, role: Role, scope: str) -> None:
    with pytest.raises(DomainError) as refused:
        await service.issue(as_(role, scope), "award_order", award_order())
    assert refused.value.status == 403
    with pytest.raises(DomainError) as report:
        await service.issue_pairs_order(as_(role, scope), pairs_order(uuid4()))
    assert report.value.status == 403
    assert peers.asked == [] and stored(service) == []


async def test_the_municipality_issues_for_its_schools_and_numbers_follow_each_other(
        service: DocumentsService) -> None:
    first = await service.issue(as_(Role.CURATOR, SCHOOL_A), "award_order", award_order())
    second = await service.issue(as_(Role.MUNICIPAL, MUNICIPALITY), "award_order",
                                 award_order())
    other = await service.issue(as_(Role.CURATOR, SCHOOL_B), "award_order",
                                award_order(SCHOOL_B))
    assert [first["number"], second["number"], other["number"]] == ["1-п", "2-п", "1-п"]


async def test_a_document_naming_nobody_asks_the_registry_nothing(
        service: DocumentsService, peers: FakePeers) -> None:
    order = CuratorOrderIn.model_validate({
        **ISSUER, "org": SCHOOL_A, "school_year": "2025-2026",
        "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя истории"})
    issued = await service.issue(as_(Role.CURATOR, SCHOOL_A), "curator_order", order)
    content, meta = await service.download(as_(Role.AUDITOR, "demo").actor,
                                           UUID(issued["id"]), "docx")
    assert content[:2] == b"PK" and meta["content_sha256"] == issued["content_sha256"]
    assert peers.asked == []


async def test_a_download_renders_the_names_again_and_ends_when_they_are_erased(
        service: DocumentsService, peers: FakePeers) -> None:
    issued = await service.issue(as_(Role.CURATOR, SCHOOL_A), "award_order", award_order())
    actor = as_(Role.CURATOR, SCHOOL_A).actor
    content, meta = await service.download(actor, UUID(issued["id"]), "docx")
    assert meta["content_sha256"] == issued["content_sha256"] and content[:2] == b"PK"

    del peers.people[MENTOR]  # consent withdrawn: the registry names them no more
    with pytest.raises(DomainError) as erased:
        await service.download(actor, UUID(issued["id"]), "docx")
    assert (erased.value.code, erased.value.status) == ("PERSONAL_DATA_ERASED", 410)
    with pytest.raises(DomainError) as hidden:
        await service.download(as_(Role.CURATOR, SCHOOL_B).actor, UUID(issued["id"]), "docx")
    assert hidden.value.code == "DOCUMENT_NOT_FOUND"


# --- reports ---------------------------------------------------------------------------------------

def report_due(path: str) -> Envelope:
    return Envelope(
        event_id=uuid4(), type="ReportDue", schema_version=1, occurred_at=datetime.now(UTC),
        org=OrgPath.parse(path), actor=Actor(user="system", role=Role.SYSTEM,
                                             scope=OrgPath(region="demo")),
        correlation_id=uuid4(), source="monitoring", source_position=1, aggregate_id=uuid4(),
        aggregate_version=1,
        payload={"report_id": "2025-H1", "level": "municipality", "period": "2025/2026",
                 "deadline": "2025-12-25", "days_left": 7})


def drafted(service: DocumentsService, path: str = MUNICIPALITY) -> UUID:
    due = report_due(path)
    with service.engine.begin() as conn:
        ReportDueInbox().apply(conn, [due, due])  # a redelivery keeps one notice
    assert service.prepare_drafts() == 1
    assert service.prepare_drafts() == 0
    return report_uuid("2025-H1", path)


REPORT_TEXT = ReportTextIn.model_validate({**ISSUER, "territory": "Озёрский округ",
                                           "conclusions": ["Доля наставляемых растёт."]})


async def test_a_report_is_submitted_once(service: DocumentsService, peers: FakePeers) -> None:
    peers.dashboards[MUNICIPALITY] = dashboard(MUNICIPALITY)
    report_id = drafted(service)
    ctx = as_(Role.MUNICIPAL, MUNICIPALITY)

    submitted = await service.submit_report(ctx, report_id, REPORT_TEXT)
    assert submitted["status"] == "submitted"
    assert submitted["document_id"] == submitted["document"]["id"] == str(report_document_id(report_id))
    assert submitted["document"]["title"] == "Информационно-аналитический отчёт за 2025/26 учебный год"
    with pytest.raises(DomainError) as again:
        await service.submit_report(ctx, report_id, REPORT_TEXT)
    assert (again.value.code, again.value.status) == ("REPORT_ALREADY_SUBMITTED", 409)

    assert peers.questions("dashboard") == [MUNICIPALITY]  # the second one asked nobody
    assert stored(service) == ["ReportDrafted", "DocumentIssued", "ReportSubmitted"]
    assert [r["status"] for r in service.list_reports(ctx.actor)] == ["submitted"]


async def test_a_report_asks_the_dashboards_of_the_units_under_it(
        service: DocumentsService, peers: FakePeers) -> None:
    units = [{"scope": SCHOOL_A, "name": "Школа 1", "mentors": 1, "mentees": 2, "pairs.formed": 1},
             {"scope": "demo/_/college", "name": "Колледж", "mentors": 2}]
    peers.dashboards[MUNICIPALITY] = dashboard(MUNICIPALITY, units=units)
    peers.dashboards[SCHOOL_A] = dashboard(SCHOOL_A, level="organisation")
    report_id = drafted(service)
    await service.submit_report(as_(Role.MUNICIPAL, MUNICIPALITY), report_id, REPORT_TEXT)
    # An organisation directly under the region has no path of its own to ask with.
    assert peers.questions("dashboard") == [MUNICIPALITY, SCHOOL_A]


@pytest.mark.parametrize(("role", "scope", "code"), [
    (Role.MUNICIPAL, "demo/m2", "REPORT_NOT_FOUND"), (Role.CURATOR, SCHOOL_A, "REPORT_NOT_FOUND"),
    (Role.AUDITOR, "demo", "FORBIDDEN")])
async def test_a_report_is_submitted_by_its_own_unit_only(
        service: DocumentsService, peers: FakePeers, role: Role, scope: str, code: str) -> None:
    peers.dashboards[MUNICIPALITY] = dashboard(MUNICIPALITY)
    report_id = drafted(service)
    with pytest.raises(DomainError) as refused:
        await service.submit_report(as_(role, scope), report_id, REPORT_TEXT)
    assert refused.value.code == code
    assert peers.asked == [] and stored(service) == ["ReportDrafted"]


async def test_a_report_issued_on_demand_is_filled_from_the_dashboard(
        service: DocumentsService, peers: FakePeers) -> None:
    order = ReportIn.model_validate({**REPORT_TEXT.model_dump(mode="json"), "org": SCHOOL_A,
                                     "period": "сентябрь 2025"})
    with pytest.raises(DomainError) as refused:  # monitoring refuses what the user may not see
        await service.issue_report(as_(Role.CURATOR, SCHOOL_A), order)
    assert refused.value.code == "FORBIDDEN" and stored(service) == []
    peers.dashboards[SCHOOL_A] = dashboard(SCHOOL_A, level="organisation")
    issued = await service.issue_report(as_(Role.CURATOR, SCHOOL_A), order)
    assert (issued["kind"], issued["title"]) == ("report", "Информационно-аналитический отчёт за "
                                                           "сентябрь 2025")


# --- practices and roadmaps -------------------------------------------------------------------

def test_a_practice_is_offered_by_a_curator_and_reviewed_by_the_level_above(
        service: DocumentsService) -> None:
    offer = PracticeIn(org=SCHOOL_A, title="Олимпиадный клуб", form="ученик – ученик",
                       description="Цели, этапы, результаты.", tags=[" Олимпиады ", "олимпиады"])
    with pytest.raises(DomainError) as municipal:
        service.submit_practice(as_(Role.MUNICIPAL, MUNICIPALITY), offer)
    assert municipal.value.status == 403
    practice = service.submit_practice(as_(Role.CURATOR, SCHOOL_A), offer)
    assert practice["tags"] == ["олимпиады"]
    practice_id = UUID(practice["id"])
    for role, scope in ((Role.CURATOR, SCHOOL_A), (Role.MUNICIPAL, "demo/m2"), (Role.AUDITOR, "demo")):
        with pytest.raises(DomainError) as refused:
            service.review_practice(as_(role, scope), practice_id, ReviewIn(decision="publish"))
        assert refused.value.status == 403
    published = service.review_practice(as_(Role.MUNICIPAL, MUNICIPALITY), practice_id,
                                        ReviewIn(decision="publish"))
    assert published["status"] == "published"
    assert service.search_practices(as_(Role.CURATOR, "demo/m2/school-c").actor, tag="олимпиады")


ROADMAP_TEXT = "\n".join([
    "Дорожная карта внедрения целевой модели наставничества на 2025 год",
    "№\tМероприятие\tСрок\tОтветственный",
    "1.\tНазначение куратора\tдо 01.10.2025\tДиректор",
    "2.\tФормирование базы наставников\tдо 15.10.2025\tКуратор"])


def test_a_roadmap_is_imported_for_ones_own_school_only(service: DocumentsService) -> None:
    upload = ImportRoadmap(SCHOOL_A, ROADMAP_TEXT.encode("cp1251"), "карта.txt")
    with pytest.raises(DomainError) as refused:
        service.import_roadmap(as_(Role.CURATOR, SCHOOL_B), upload)
    assert refused.value.status == 403
    with pytest.raises(DomainError) as empty:
        service.import_roadmap(as_(Role.CURATOR, SCHOOL_A), ImportRoadmap(SCHOOL_A, b" ", "x.txt"))
    assert empty.value.code == "EMPTY_FILE"
    roadmap = service.import_roadmap(as_(Role.CURATOR, SCHOOL_A), upload)
    assert [i["next_due_date"] for i in roadmap["items"]] == ["2025-10-01", "2025-10-15"]
    assert stored(service) == ["RoadmapImported"]


def test_the_sweep_marks_what_is_late(tmp_path: Path, peers: FakePeers) -> None:
    late = memory_service(tmp_path, peers, today=date(2025, 10, 2))
    try:
        upload = ImportRoadmap(SCHOOL_A, ROADMAP_TEXT.encode(), "карта.txt")
        late.import_roadmap(as_(Role.CURATOR, SCHOOL_A), upload)
        late.sweep_roadmaps()
        late.sweep_roadmaps()  # changes nothing twice
        municipal = as_(Role.MUNICIPAL, MUNICIPALITY).actor
        assert [i["id"] for i in late.overdue_items(municipal)] == ["1"]
        assert late.overdue_items(as_(Role.MUNICIPAL, "demo/m2").actor) == []
    finally:
        late.close()
