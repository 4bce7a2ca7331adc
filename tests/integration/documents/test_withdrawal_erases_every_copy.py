"""152-ФЗ to the last copy: after a person withdraws consent, their name, the goal set for their
pair, the feedback about their meeting and a thanks letter naming them are nowhere — not in any
database file (write-ahead logs included, in UTF-8, UTF-16 or JSON escapes, inside stored DOCX
and PDF files too), not in any other file the system wrote, not in any message of any JetStream
stream, not in the logs. Registry, pairing, monitoring and documents on a real NATS and real
SQLite files."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.documents.erasure import erasure_inbox
from services.pairing import views as pairing_views
from services.pairing.domain import CONSENT_REASON
from services.pairing.vault import TEXT_REMOVED
from shared.auth import Role
from shared.contracts import stream_name
from shared.localtime import local_today
from tests.conftest import wait_until
from tests.integration.documents.conftest import (
    ISSUER,
    SCHOOL_A,
    System,
    form_pair,
    programme,
    register,
)
from tests.integration.documents.reader import pdf_text

GOAL = "Построить с Евлампией модель колец Сатурна из фольги"
FEEDBACK = "Евлампия сама собрала гномон во дворе гимназии"
TO_CHANGE = "Больше наблюдений переменных звёзд"
LETTER = "Благодарим Евлампию Зильберштейн за гномон, собранный для школьной обсерватории."
REASON = "Отец, Аполлинарий Феоктистович Зильберштейн, просит удалить данные дочери"
#: What must not survive: the withdrawn mentee's and her guardian's names (stems catch every case
#: ending), and every free text about her. The mentor keeps her consent and her name.
SECRETS = ("Зильберштейн", "Евлампи", "Феоктист", "Аполлинари", GOAL, FEEDBACK, TO_CHANGE,
           "колец Сатурна", "гномон", "переменных звёзд")


def encodings(text: str) -> list[bytes]:
    """The text as UTF-8 (also lower-cased), UTF-16 either way, and as JSON escapes it."""
    escaped = json.dumps(text).strip('"')
    return [text.encode(), text.lower().encode(), text.encode("utf-16-le"),
            text.encode("utf-16-be"), escaped.encode(), escaped.upper().replace("\\U", "\\u").encode()]


NEEDLES = {needle: secret for secret in SECRETS for needle in encodings(secret)}


def inner_texts(data: bytes) -> Iterator[bytes]:
    """The bytes themselves, and what a DOCX (zip) or PDF they are holds, opened."""
    yield data
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                for name in package.namelist():
                    yield package.read(name)
        except zipfile.BadZipFile:
            pass
    if data.startswith(b"%PDF"):
        with tempfile.TemporaryDirectory() as tmp:  # not under the scanned folder
            path = Path(tmp) / "stored.pdf"
            path.write_bytes(data)
            yield pdf_text(path).encode()


def sqlite_cells(path: Path) -> Iterator[bytes]:
    """Every value of every table of a SQLite database, as bytes (blobs opened)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 — names from the file
                for value in row:
                    if isinstance(value, bytes):
                        yield from inner_texts(value)
                    elif value is not None:
                        yield str(value).encode()
    finally:
        conn.close()


def found_in(label: str, data: bytes) -> list[str]:
    return [f"{NEEDLES[n]!r} in {label}" for n in NEEDLES if n in data]


def scan_files(folder: Path) -> tuple[list[str], int, int]:
    """Every file under the folder (databases, their -wal and -shm, the NATS store, the PDF
    converter's profile): raw bytes, and the cells of every database. Returns what was found,
    how many files and database cells were read."""
    found: list[str] = []
    files = cells = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files += 1
        for data in inner_texts(path.read_bytes()):
            found += found_in(str(path.relative_to(folder)), data)
        if path.suffix == ".sqlite":
            for data in sqlite_cells(path):
                cells += 1
                found += found_in(f"a row of {path.relative_to(folder)}", data)
    return found, files, cells


async def every_stream_message(url: str) -> dict[str, list[bytes]]:
    """Every message stored on every JetStream stream, read with a consumer of our own."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        stored: dict[str, list[bytes]] = {}
        for info in await js.streams_info():
            name = info.config.name
            messages: list[bytes] = []
            sub = await js.pull_subscribe_bind(
                durable=(await js.add_consumer(name, ConsumerConfig(
                    deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=600, max_ack_pending=-1, inactive_threshold=60))).name,
                stream=name)
            while len(messages) < info.state.messages:
                try:
                    batch = await sub.fetch(500, timeout=2)
                except nats.errors.TimeoutError:
                    break
                for msg in batch:
                    headers = b"".join(f"{k}:{v}".encode() for k, v in (msg.headers or {}).items())
                    messages.append(msg.subject.encode() + headers + msg.data)
            await sub.unsubscribe()
            assert len(messages) == info.state.messages, name
            stored[name] = messages
        return stored
    finally:
        await nc.close()


def captured_logs(request: pytest.FixtureRequest) -> str:
    """Every log line the services wrote so far (to stdout and stderr, which pytest captures):
    the fixture's set-up and this test's call."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    out, err = capture.read_global_capture()
    sys.stdout.write(out)  # still shown with the test's report
    sys.stderr.write(err)
    earlier = "".join(text for _, _, text in request.node._report_sections)
    return earlier + out + err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_withdrawal_leaves_no_copy_of_the_name_or_the_texts(
        reporting: System, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    system = reporting
    mentor = register(system, "mentor", "school-a", "Курочкина", "Нина", "Павловна", "1980-04-02")
    mentee = register(system, "mentee", "school-a", "Зильберштейн", "Евлампия", "Аполлинариевна",
                      "2012-06-21", guardian_name="Зильберштейн Аполлинарий Феоктистович")
    pair_id = form_pair(system, programme(system, "school-a"), mentor, mentee)
    today = local_today().isoformat()
    for url, body in ((f"/pairing/pairs/{pair_id}/goals", {"title": GOAL}),
                      (f"/pairing/pairs/{pair_id}/meetings",
                       {"kind": "intro", "date": today, "duration_minutes": 45}),
                      (f"/pairing/pairs/{pair_id}/feedback",
                       {"meeting_number": 1, "satisfaction": 9, "respondent_id": mentee,
                        "went_well": FEEDBACK, "to_change": TO_CHANGE})):
        answer = system.post(url, body)
        assert answer.status_code == 201, answer.text
    letter = system.post("/documents/thanks-letter",
                         {**ISSUER, "org": SCHOOL_A, "person_id": mentee, "text": LETTER})
    assert letter.status_code == 201, letter.text
    document = letter.json()

    # While consent stands, everyone entitled reads it all: the pair's texts and the letter.
    pair = system.get(f"/pairing/pairs/{pair_id}").json()
    assert [g["title"] for g in pair["goals"]] == [GOAL]
    feedback = system.get(f"/pairing/pairs/{pair_id}/meetings/1/feedback").json()
    assert [(f["went_well"], f["to_change"]) for f in feedback] == [(FEEDBACK, TO_CHANGE)]
    docx = system.get(document["docx_url"])
    assert docx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(docx.content)) as package:
        assert "Зильберштейн Евлампия" in package.read("word/document.xml").decode()
    pdf = system.get(document["pdf_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert any("Зильберштейн".encode() in text for text in inner_texts(pdf.content))

    # The scan finds plaintext where it is: the letter's wording, kept (as its recipe) until
    # the consent goes. The pair's texts are sealed before they are stored, so never found.
    before, _, _ = scan_files(tmp_path)
    assert before and all("documents" in hit for hit in before), before
    assert {"'гномон' in a row of data/documents/views.sqlite",
            "'Зильберштейн' in a row of data/documents/views.sqlite"} <= set(before)

    withdrawn = system.post(f"/registry/people/{mentee}/consent/withdraw", {"reason": REASON})
    assert withdrawn.status_code == 204, withdrawn.text

    # Every service has worked the withdrawal off: the pairing dissolved the pair and destroyed
    # the key, the documents erased the letter, monitoring has every event in its audit log.
    assert system.pairing is not None
    pairing_engine = system.pairing.service.engine

    def pairing_done() -> bool:
        with pairing_engine.connect() as conn:
            notices = conn.execute(sa.select(pairing_views.consent_inbox.c.done)).scalars().all()
        return notices == [True] and not system.pairing.service.vault.purge_pending  # type: ignore[union-attr]

    wait_until(pairing_done, message="the pairing to work the withdrawal off")
    erasure = system.documents.erasure

    def documents_done() -> bool:
        with erasure.engine.connect() as conn:
            notices = conn.execute(sa.select(erasure_inbox.c.done)).scalars().all()
        return notices == [True] and erasure.settled()

    wait_until(documents_done, message="the documents to erase what names the person")
    system.settle()

    # What a reader sees now: the texts are gone, the figures and the registration stay.
    pair = system.get(f"/pairing/pairs/{pair_id}").json()
    assert (pair["status"], pair["close_reason"]) == ("dissolved", CONSENT_REASON)
    assert [g["title"] for g in pair["goals"]] == [TEXT_REMOVED]
    feedback = system.get(f"/pairing/pairs/{pair_id}/meetings/1/feedback").json()
    assert [(f["went_well"], f["to_change"], f["satisfaction"]) for f in feedback] == [
        (TEXT_REMOVED, TEXT_REMOVED, 9)]
    for url in (document["docx_url"], document["pdf_url"]):
        erased = system.get(url)
        assert (erased.status_code, erased.json()["code"]) == (410, "PERSONAL_DATA_ERASED")
    assert system.get(f"/documents/{document['id']}").json() == document
    person = system.get(f"/registry/people/{mentee}").json()
    assert person["withdrawn"] is True and person["full_name"] is None
    # The auditor's question — that consent was withdrawn, when and by whom — is answered.
    trail = system.get(f"/audit/trail/{mentee}", Role.AUDITOR, "demo")
    assert trail.status_code == 200 and trail.headers["X-Audit-Verified"] == "yes"
    withdrawal = trail.json()[-1]
    assert withdrawal["type"] == "ConsentWithdrawn" and withdrawal["occurred_at"]
    assert withdrawal["actor"] == {"user": "tester", "role": "curator", "scope": SCHOOL_A}

    # And nowhere is there a copy.
    found, files, cells = scan_files(tmp_path)
    assert files > 10 and cells > 100  # the scan read the databases, not nothing
    streams = asyncio.run(every_stream_message(system.settings.nats_url))
    assert {stream_name(s) for s in ("registry", "pairing", "documents")} <= set(streams)
    for name, messages in streams.items():
        for data in messages:
            found += found_in(f"stream {name}", data)
    assert sum(len(m) for m in streams.values()) > 10
    logs = captured_logs(request)
    assert "registry.consent_withdrawn" in logs and "documents.consent_erased" in logs
    found += found_in("the logs", logs.encode())
    assert found == []
    # The reason was kept, without the names.
    registry_events = system.settings.service_dir("registry") / "events.sqlite"
    kept = b"".join(sqlite_cells(registry_events)).decode("utf-8", "replace")
    assert re.search(r"Отец, \[удалено\] \[удалено\] \[удалено\], просит удалить данные дочери", kept)
