"""Documents that name registry persons keep no names: only a recipe (ids), rendered again at each
download with the names the registry gives the downloading user, and checked against the SHA-256
registered at issue. Withdrawn consent makes such a document undownloadable, its registration stays.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from docx import Document

from services.documents import views
from shared.auth import Actor, OrgPath, Role
from shared.contracts import PersonNames
from shared.errors import DomainError
from tests.integration.documents.conftest import ISSUER, SCHOOL_A, SCHOOL_B, System
from tests.integration.documents.reader import pdf_text
from tests.integration.documents.test_generation_api import paired, pairs_body, people


def docx_text(content: bytes) -> str:
    document = Document(io.BytesIO(content))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


#: Parts of the registry persons' names printed in the pairs order (the signatory is not one).
PERSON_NAMES = ("Петрова", "Анна", "Кузнецов", "Павел", "Орлов", "Егор", "Белова", "Зайцев", "Илья")


def readable(value: Any, workdir: Path) -> str:
    """What a value in the database says, opening the DOCX and PDF files it may be."""
    if isinstance(value, bytes | memoryview):
        data = bytes(value)
        if data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                return " ".join(package.read(n).decode("utf-8", "replace") for n in package.namelist())
        if data.startswith(b"%PDF"):
            path = workdir / "stored.pdf"
            path.write_bytes(data)
            return pdf_text(path)
        return data.decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def database_text(system: System, workdir: Path) -> str:
    """Every row of every documents table (views, local tables and the event store)."""
    engine = system.documents.service.engine
    reflected = sa.MetaData()
    reflected.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in reflected.sorted_tables:
            if "document" not in table.name.lower():
                continue
            for row in conn.execute(sa.select(table)):
                parts.extend(readable(value, workdir) for value in row)
    return "\n".join(parts)


def sqlite_bytes(system: System) -> bytes:
    folder = system.settings.service_dir("documents")
    return b"".join(p.read_bytes() for p in sorted(folder.glob("*.sqlite*")))


def test_a_pairs_order_is_kept_as_its_recipe_and_erased_with_consent(
        system: System, tmp_path: Path) -> None:
    ids = paired(system, people(system))
    system.clock.today = date(2023, 9, 15)
    issued = system.post("/documents/pairs-order", pairs_body(ids))
    assert issued.status_code == 201, issued.text
    document = issued.json()

    # Downloads render the order again, byte for byte the registered one, names from the registry.
    docx = system.get(document["docx_url"])
    assert docx.status_code == 200, docx.text
    assert hashlib.sha256(docx.content).hexdigest() == document["content_sha256"]
    assert docx.headers["X-Content-SHA256"] == document["content_sha256"]
    assert system.get(document["docx_url"]).content == docx.content
    pdf = system.get(document["pdf_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (tmp_path / "order.pdf").write_bytes(pdf.content)
    text = pdf_text(tmp_path / "order.pdf")
    for expected in ("№ 1-н", "15.09.2023", "Петрова Анна Сергеевна", "Орлов Егор Ильич",
                     "Белова Мария Олеговна", "Зайцев Илья Романович"):
        assert expected in text, expected
    # The municipality above the school sees the children by label (152-ФЗ, ст. 5): a redacted
    # copy, not the registered bytes; the adult mentors keep their names.
    municipal = system.get(document["docx_url"], Role.MUNICIPAL, "demo/m1")
    assert municipal.status_code == 200 and municipal.content != docx.content
    copy = docx_text(municipal.content)
    assert "Петрова Анна Сергеевна" in copy and copy.count("Наставляемый №") == 3
    assert [n for n in ("Орлов", "Белова", "Зайцев", "Егор", "Илья") if n in copy] == []

    # Neither the DOCX nor the PDF (never cached) was kept: the database holds ids, not names.
    service = system.documents.service
    with service.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(views.files)).scalar() == 0
        recipe = conn.execute(sa.select(views.recipes)).one()
    body = recipe.body
    assert (recipe.kind, recipe.number, recipe.date) == ("pairs_order", "1-н", "2023-09-15")
    assert body["pairs"][0]["mentor_id"] == ids["petrova"]
    stored = database_text(system, tmp_path)
    assert document["content_sha256"] in stored and ids["orlov"] in stored  # the scan reads rows
    assert [n for n in PERSON_NAMES if n in stored] == []
    if not system.settings.uses_postgres:
        raw = sqlite_bytes(system)
        assert [n for n in PERSON_NAMES if n.encode() in raw] == []

    # Someone outside the school does not learn the document exists; an auditor gets the
    # registry's refusal and nothing else.
    assert system.get(document["docx_url"], Role.CURATOR, SCHOOL_B).status_code == 404
    assert system.get(document["pdf_url"], Role.CURATOR, SCHOOL_B).json()["code"] == \
        "DOCUMENT_NOT_FOUND"
    refused = system.get(document["docx_url"], Role.AUDITOR, "demo")
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    assert "Петрова" not in refused.text

    # One mentee withdraws consent: the order can no longer be produced by anyone...
    withdraw = system.post(f"/registry/people/{ids['orlov']}/consent/withdraw", {"reason": "семья"})
    assert withdraw.status_code == 204
    for url, role, scope in ((document["docx_url"], Role.CURATOR, SCHOOL_A),
                             (document["pdf_url"], Role.CURATOR, SCHOOL_A),
                             (document["docx_url"], Role.MUNICIPAL, "demo/m1")):
        erased = system.get(url, role, scope)
        assert erased.status_code == 410, erased.text
        answer = erased.json()
        assert answer["code"] == "PERSONAL_DATA_ERASED"
        assert "отзыва согласия" in answer["message"] and "№ 1-н от 15.09.2023" in answer["message"]
        assert answer["details"] == [{"id": document["id"], "number": "1-н", "date": "2023-09-15",
                                      "content_sha256": document["content_sha256"]}]
        assert not [n for n in PERSON_NAMES if n in erased.text]

    # ...while its registration and its DocumentIssued event remain.
    assert system.get(f"/documents/{document['id']}").json() == document
    events = [e for e in system.published() if e.type == "DocumentIssued"]
    assert [(e.payload["document_id"], e.payload["content_sha256"]) for e in events] == [
        (document["id"], document["content_sha256"])]


def test_a_name_changed_since_issue_gives_document_changed(system: System) -> None:
    ids = people(system)
    issued = system.post("/documents/award-order", {
        **ISSUER, "org": SCHOOL_A, "school_year": "2023-2024",
        "awards": [{"mentor_id": ids["kuznetsov"], "merit": "лучший наставник года"}]})
    assert issued.status_code == 201, issued.text
    document = issued.json()
    assert system.get(document["docx_url"]).status_code == 200

    service = system.documents.service
    actor = Actor(user="tester", role=Role.CURATOR, scope=OrgPath.parse(SCHOOL_A))
    document_id = UUID(document["id"])
    assert service.people_to_name(actor, document_id) == ([UUID(ids["kuznetsov"])], [])
    corrected = PersonNames(full_name="Кузнецов Пётр Андреевич", last_name="Кузнецов",
                            first_name="Пётр", middle_name="Андреевич", role="mentor",
                            organisation_id=system.ids["school-a"])
    with pytest.raises(DomainError) as changed:
        service.document_file(actor, document_id, "docx", {UUID(ids["kuznetsov"]): corrected})
    assert (changed.value.code, changed.value.status) == ("DOCUMENT_CHANGED", 409)
    assert "изменились" in changed.value.message
    assert changed.value.details[0]["content_sha256"] == document["content_sha256"]


def test_documents_without_registry_persons_keep_their_files(system: System) -> None:
    letter = system.post("/documents/thanks-letter", {
        **ISSUER, "org": SCHOOL_A, "addressee": "ООО «Завод Прогресс»",
        "text": "Благодарим за предоставление наставников для обучающихся."})
    curator = system.post("/documents/curator-order", {
        **ISSUER, "org": SCHOOL_A, "school_year": "2023-2024",
        "curator_name": "Волкова Елена Викторовна", "curator_position": "учителя истории"})
    assert letter.status_code == curator.status_code == 201
    service = system.documents.service
    with service.engine.connect() as conn:
        kept = {str(i) for i in conn.execute(sa.select(views.files.c.document_id)).scalars()}
        recipes = conn.execute(sa.select(sa.func.count()).select_from(views.recipes)).scalar()
    assert kept == {letter.json()["id"], curator.json()["id"]} and recipes == 0
    docx = system.get(letter.json()["docx_url"])
    assert hashlib.sha256(docx.content).hexdigest() == letter.json()["content_sha256"]
    # The files are served without asking the registry: an auditor reads them.
    assert system.get(curator.json()["docx_url"], Role.AUDITOR, "demo").status_code == 200


def test_a_consent_form_follows_its_person(system: System, tmp_path: Path) -> None:
    ids = people(system)
    issued = system.post("/documents/consent", {**ISSUER, "org": SCHOOL_A, "person_id": ids["belova"]})
    assert issued.status_code == 201, issued.text
    document = issued.json()
    docx = system.get(document["docx_url"])
    assert hashlib.sha256(docx.content).hexdigest() == document["content_sha256"]
    assert [n for n in ("Белова", "Белов Олег") if n in database_text(system, tmp_path)] == []
    before = system.stored()
    assert system.post(f"/registry/people/{ids['belova']}/consent/withdraw",
                       {"reason": "отзыв"}).status_code == 204
    assert system.get(document["docx_url"]).json()["code"] == "PERSONAL_DATA_ERASED"
    assert system.get(document["pdf_url"]).status_code == 410
    assert system.stored() == before  # a refused download records nothing


def test_an_order_an_official_issues_names_children_by_label(system: System) -> None:
    """The municipality's own pairs order prints labels for the children; the school's curator,
    who sees the names, downloads it exactly as issued (its checksum holds)."""
    ids = paired(system, people(system))
    issued = system.post("/documents/pairs-order", pairs_body(ids), Role.MUNICIPAL, "demo/m1")
    assert issued.status_code == 201, issued.text
    document = issued.json()
    for role, scope in ((Role.MUNICIPAL, "demo/m1"), (Role.CURATOR, SCHOOL_A)):
        docx = system.get(document["docx_url"], role, scope)
        assert docx.status_code == 200, docx.text
        assert hashlib.sha256(docx.content).hexdigest() == document["content_sha256"]
        text = docx_text(docx.content)
        assert "Петрова Анна Сергеевна" in text and text.count("Наставляемый №") == 3
        assert [n for n in ("Орлов", "Белова", "Зайцев") if n in text] == []
    # A consent form needs the child's name and birth date: the school issues it, not the level above.
    consent = system.post("/documents/consent", {**ISSUER, "org": SCHOOL_A, "person_id": ids["orlov"]},
                          Role.REGIONAL, "demo")
    assert consent.status_code == 403 and consent.json()["code"] == "NAMES_HIDDEN"
