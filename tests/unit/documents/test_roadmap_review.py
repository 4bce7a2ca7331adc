"""The review of a roadmap's parse (issue 22), on the service layer with an in-memory store: the
preview stores nothing, and a confirmed review tracks the items as corrected, keeping which
fields the user changed — in this service's store, not on the bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.documents.application import DocumentsService
from services.documents.commands import ConfirmRoadmap, ImportRoadmap
from services.documents.domain import TrackedRoadmap
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError
from shared.events import public_payload
from shared.store import CommandContext
from tests.unit.documents.fakes import FakePeers, memory_service

SCHOOL_A, SCHOOL_B = "demo/m1/school-a", "demo/m1/school-b"
ROADMAP = "\n".join([
    "Дорожная карта внедрения целевой модели наставничества на 2025 год",
    "№\tМероприятие\tСрок\tОтветственный",
    "1.\tНазначение куратора\tдо 01.10.2025\tДиректор",
    "2.\tФормирование базы наставников\tпосле согласования\tКуратор",
    "3.\tОтчёт о работе\tдо 01.03.2027\t"]).encode("utf-8")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[DocumentsService]:
    documents = memory_service(tmp_path, FakePeers())
    yield documents
    documents.close()


def as_(role: Role, scope: str) -> CommandContext:
    return CommandContext(Actor(user="tester", role=role, scope=OrgPath.parse(scope)))


def stored(service: DocumentsService) -> list[Any]:
    return [service.events.mapper.to_domain_event(n)
            for n in service.events.notifications_after(0, 100)]


def reviewed(preview: dict[str, Any], **changes: dict[str, Any]) -> str:
    """The preview's items as the review form sends them back, with ``changes`` by item number."""
    keys = ("section", "activity", "due_dates", "continuous", "responsible", "result")
    items = [{key: item[key] for key in keys} | changes.get(f"i{n}", {})
             for n, item in enumerate(preview["items"], 1)]
    return json.dumps({"content_sha256": preview["content_sha256"], "items": items})


def test_the_preview_shows_what_the_parser_was_unsure_of_and_saves_nothing(
        service: DocumentsService) -> None:
    upload = ImportRoadmap(SCHOOL_A, ROADMAP, "карта.txt")
    with pytest.raises(DomainError) as refused:
        service.preview_roadmap(as_(Role.CURATOR, SCHOOL_B), upload)
    assert refused.value.status == 403
    preview = service.preview_roadmap(as_(Role.CURATOR, SCHOOL_A), upload)
    assert preview["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    unsure = [[(d["field"], d["code"]) for d in item["unsure"]] for item in preview["items"]]
    assert unsure == [[], [("due_dates", "DEADLINE_UNREAD")],
                      [("due_dates", "DEADLINE_OUTSIDE_PERIOD"), ("responsible", "NO_RESPONSIBLE")]]
    assert "после согласования" in preview["items"][1]["unsure"][0]["message"]
    assert stored(service) == []
    assert service.list_roadmaps(as_(Role.CURATOR, SCHOOL_A).actor) == []


def test_a_confirmed_review_tracks_the_corrections_and_keeps_them_with_the_roadmap(
        service: DocumentsService) -> None:
    ctx = as_(Role.CURATOR, SCHOOL_A)
    preview = service.preview_roadmap(ctx, ImportRoadmap(SCHOOL_A, ROADMAP, "карта.txt"))
    review = reviewed(preview, i2={"due_dates": ["2025-11-20", "2025-11-10"]},
                      i3={"responsible": "Куратор"})
    roadmap = service.confirm_roadmap(ctx, ConfirmRoadmap(SCHOOL_A, ROADMAP, "карта.txt", review))
    first, second, third = roadmap["items"]
    assert "corrected" not in first
    assert second["due_dates"] == ["2025-11-10", "2025-11-20"]
    assert second["next_due_date"] == "2025-11-10"
    assert second["deadline_text"] == "10.11.2025, 20.11.2025"
    assert (second["corrected"], second["parsed"]) == (["due_dates"], {"due_dates": []})
    assert (third["responsible"], third["parsed"]) == ("Куратор", {"responsible": None})

    (event,) = stored(service)
    aggregate: TrackedRoadmap = service.events.repository.get(event.originator_id)
    assert aggregate.corrections == [{"item": "2", "fields": ["due_dates"]},
                                     {"item": "3", "fields": ["responsible"]}]
    assert len(aggregate.source_sha256 or "") == 64
    # What goes on the bus names no one: neither the corrections nor the entries.
    public = public_payload("RoadmapImported", event.__dict__)
    assert set(public) == {"roadmap_id", "title", "period_start", "period_end", "items"}


@pytest.mark.parametrize(("change", "code"), [
    ({"content_sha256": "0" * 64}, "ROADMAP_FILE_CHANGED"),
    ({"drop": True}, "ROADMAP_REVIEW_MISMATCH"),
    ({"items": [{"activity": "", "due_dates": []}]}, "ROADMAP_REVIEW_INVALID"),
    ({"items": [{"activity": "x", "due_dates": ["31.11.2025"]}]}, "ROADMAP_REVIEW_INVALID"),
])
def test_a_review_that_does_not_match_its_file_is_refused_and_nothing_is_saved(
        service: DocumentsService, change: dict[str, Any], code: str) -> None:
    ctx = as_(Role.CURATOR, SCHOOL_A)
    preview = service.preview_roadmap(ctx, ImportRoadmap(SCHOOL_A, ROADMAP, "карта.txt"))
    review = json.loads(reviewed(preview))
    if change.pop("drop", False):
        review["items"].pop()
    review.update(change)
    with pytest.raises(DomainError) as refused:
        service.confirm_roadmap(ctx, ConfirmRoadmap(SCHOOL_A, ROADMAP, "карта.txt",
                                                    json.dumps(review)))
    assert (refused.value.code, refused.value.status) == (code, 422)
    assert stored(service) == []
