"""The review of a roadmap over HTTP (issue 22): the preview answers the parse and stores
nothing; the confirmation with the same file tracks the items as corrected; a review that does
not match its file, or a file that is no roadmap, gets a 422 in Russian and nothing is stored."""

from __future__ import annotations

import json
import re

from shared.auth import Role
from tests.integration.documents.conftest import SCHOOL_A, System
from tests.integration.documents.test_roadmaps_api import word_roadmap


def test_preview_then_confirm_a_word_roadmap_with_a_corrected_deadline(system: System) -> None:
    headers = system.headers(Role.CURATOR, SCHOOL_A)
    data = word_roadmap()
    preview = system.client.post("/documents/roadmaps/preview", data={"org": SCHOOL_A},
                                 files={"file": ("карта.docx", data)}, headers=headers)
    assert preview.status_code == 200, preview.text
    parsed = preview.json()
    assert [i["due_dates"] for i in parsed["items"]][0] == ["2023-09-15"]
    assert all(isinstance(i["unsure"], list) for i in parsed["items"])
    assert system.stored() == 0

    items = [{key: i[key] for key in ("section", "activity", "due_dates", "continuous",
                                      "responsible", "result")} for i in parsed["items"]]
    items[0]["due_dates"] = ["2023-09-20"]
    review = json.dumps({"content_sha256": parsed["content_sha256"], "items": items})
    refused = system.client.post("/documents/roadmaps/reviewed",
                                 data={"org": SCHOOL_A, "review": review},
                                 files={"file": ("карта.docx", data + b" ")}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "ROADMAP_FILE_CHANGED"
    assert re.search("[а-я]{4}", refused.json()["message"])
    assert system.stored() == 0

    confirmed = system.client.post("/documents/roadmaps/reviewed",
                                   data={"org": SCHOOL_A, "review": review},
                                   files={"file": ("карта.docx", data)}, headers=headers)
    assert confirmed.status_code == 201, confirmed.text
    first = confirmed.json()["items"][0]
    assert (first["due_dates"], first["corrected"]) == (["2023-09-20"], ["due_dates"])
    assert first["parsed"] == {"due_dates": ["2023-09-15"]}
    assert system.stored() == 1


def test_a_file_that_is_no_roadmap_gets_a_russian_422_from_the_preview(system: System) -> None:
    response = system.client.post("/documents/roadmaps/preview", data={"org": SCHOOL_A},
                                  files={"file": ("письмо.txt", "Добрый день!".encode())},
                                  headers=system.headers(Role.CURATOR, SCHOOL_A))
    assert response.status_code == 422
    assert re.search("[а-я]{4}", response.json()["message"])
    assert system.stored() == 0
