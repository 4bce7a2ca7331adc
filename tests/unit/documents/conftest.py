"""The documents service layer over one school with a mentor and a mentee the registry knows,
shared by the tests that need no more (nominations, training)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from services.documents.application import DocumentsService
from tests.unit.documents.fakes import MENTEE, MENTOR, FakePeers, memory_service, person


@pytest.fixture
def documents(tmp_path: Path) -> Iterator[DocumentsService]:
    school = uuid4()
    service = memory_service(tmp_path, FakePeers(people={
        MENTOR: person("Кузнецова Мария Андреевна", school),
        MENTEE: person("Орлов Егор Ильич", school, "mentee")}))
    yield service
    service.close()
