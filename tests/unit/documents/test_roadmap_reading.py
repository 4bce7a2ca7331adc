"""What an uploaded file is and how it is read: Word 97 and OpenDocument through LibreOffice,
clear Russian refusals for anything that is no roadmap, and bounds that keep hostile files short."""

from __future__ import annotations

import io
import os
import random
import re
import select
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import docx
import pytest

from services.documents.roadmap import RoadmapParseError, parse_roadmap_file, parse_roadmap_upload, reading
from services.documents.roadmap.limits import MAX_CELL_CHARS, MAX_ROWS
from tests.unit.documents.roadmap_renderers import LAYOUTS, original, signature

SAMPLE = "smolensk-2022-2024.txt"
# Words a Russian message may carry in Latin letters: format names.
ALLOWED_LATIN = {"Word", "docx", "doc", "odt", "OpenDocument", "RTF"}


def assert_clear(error: RoadmapParseError, code: str = "ROADMAP_UNREADABLE", status: int = 422) -> None:
    message = str(error)
    assert (error.code, error.status) == (code, status)
    assert re.search(r"[а-яА-Я]{4}", message), message
    assert set(re.findall(r"[A-Za-z]+", message)) <= ALLOWED_LATIN, message
    assert "/" not in message and "\\" not in message, message  # no server path


def convert(source: Path, target_format: str, outdir: Path) -> Path:
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    assert binary is not None
    subprocess.run([binary, f"-env:UserInstallation={(outdir / 'profile').as_uri()}", "--headless",
                    "--convert-to", target_format, "--outdir", str(outdir), str(source)],
                   check=True, capture_output=True, timeout=120)
    return outdir / f"{source.stem}.{target_format}"


@pytest.fixture(scope="module")
def word_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("word")
    rendered = LAYOUTS["docx_merged_stages"](original(SAMPLE), random.Random(7))
    path = folder / "plan.docx"
    path.write_bytes(rendered.data)
    return path


@pytest.mark.parametrize("target_format", ["doc", "odt"])
def test_word_97_and_opendocument_are_converted_by_libreoffice(word_sample: Path, tmp_path: Path,
                                                               target_format: str) -> None:
    expected = [signature(item) for item in original(SAMPLE).items]
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        with pytest.raises(RoadmapParseError) as refused:
            parse_roadmap_upload(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "plan.doc")
        assert_clear(refused.value)
        assert "docx" in str(refused.value)
        return
    # LibreOffice drops a python-docx table when it writes Word 97 straight from .docx, so the
    # .doc is written from the OpenDocument copy, as an office re-saving an old file would.
    converted = convert(word_sample, "odt", tmp_path)
    if target_format == "doc":
        converted = convert(converted, "doc", tmp_path / "doc")
    parsed = parse_roadmap_file(converted)
    assert [signature(item) for item in parsed.items] == expected


@pytest.mark.parametrize("name, data", [
    ("notes.txt", "Просто заметки без таблицы мероприятий.".encode()),
    ("broken.docx", b"PK\x03\x04 not really a zip"),
    ("cut.doc", b"\xd0\xcf\x11\xe0"),
    ("picture.docx", b"\x89PNG\r\n\x1a\n" + b"\0" * 300),
    ("cut.zip.docx", b"PK\x03\x04"),
])
def test_files_that_are_no_roadmap_are_refused_in_russian(name: str, data: bytes) -> None:
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(data, name)
    assert_clear(refused.value)


def test_a_workbook_renamed_to_docx_is_refused_in_russian() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(buffer.getvalue(), "book.docx")
    assert_clear(refused.value)


def test_a_docx_python_docx_cannot_open_is_refused_without_its_english_words(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<not-closed")
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(buffer.getvalue(), "/srv/uploads/plan.docx")
    assert_clear(refused.value)


def hostile_docx(rows: int) -> bytes:
    """A real Word package whose table has ``rows`` rows of incompressible text (~3.7 MB)."""
    document = docx.Document()
    document.add_paragraph("Дорожная карта на 2024 год")
    buffer = io.BytesIO()
    document.save(buffer)
    rng = random.Random(1)
    cell = "<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>"
    row = "<w:tr>{}</w:tr>"
    cells = ("".join(cell.format(rng.getrandbits(64)) for _ in range(4)) for _ in range(rows))
    body = "".join(row.format(four) for four in cells)
    source = zipfile.ZipFile(buffer)
    xml = source.read("word/document.xml").decode()
    xml = xml.replace("</w:body>", f"<w:tbl><w:tblGrid/>{body}</w:tbl></w:body>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, xml if info.filename == "word/document.xml" else source.read(info))
    return out.getvalue()


def test_a_hostile_docx_is_refused_in_seconds_not_minutes() -> None:
    data = hostile_docx(rows=76_000)
    assert 3.5 * 1024 * 1024 < len(data) < 4 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(data, "plan.docx")
    assert time.monotonic() - started < 10
    assert_clear(refused.value, "ROADMAP_TOO_LARGE", 413)


def test_a_table_of_too_many_rows_is_refused_before_it_is_walked() -> None:
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(hostile_docx(rows=MAX_ROWS + 1), "plan.docx")
    assert_clear(refused.value, "ROADMAP_TOO_LARGE", 413)
    assert str(MAX_ROWS) in str(refused.value)


def test_a_cell_longer_than_any_roadmap_writes_is_refused() -> None:
    document = docx.Document()
    document.add_paragraph("Дорожная карта на 2024 год")
    table = document.add_table(rows=2, cols=3)
    for cell, title in zip(table.rows[0].cells, ("Мероприятие", "Срок", "Ответственный"), strict=True):
        cell.text = title
    table.cell(1, 0).text = "Встреча"
    table.cell(1, 1).text = "январь 2024 " * (MAX_CELL_CHARS // 10)
    buffer = io.BytesIO()
    document.save(buffer)
    started = time.monotonic()
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(buffer.getvalue(), "plan.docx")
    assert time.monotonic() - started < 5
    assert_clear(refused.value, "ROADMAP_TOO_LARGE", 413)


def test_a_huge_text_is_refused_before_it_is_split() -> None:
    text = "1\tВстреча\tянварь 2024\n" * 70_000
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(text.encode(), "plan.txt")
    assert_clear(refused.value, "ROADMAP_TOO_LARGE", 413)


def test_tables_nested_without_end_are_refused() -> None:
    document = docx.Document()
    host = document.add_table(rows=1, cols=1).cell(0, 0)
    for _ in range(8):
        host = host.add_table(rows=1, cols=1).cell(0, 0)
    host.text = "Дорожная карта"
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(buffer.getvalue(), "plan.docx")
    assert_clear(refused.value, "ROADMAP_TOO_LARGE", 413)


OLE_DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600


def test_without_libreoffice_a_word_97_file_is_refused_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "soffice_binary", lambda: None)
    with pytest.raises(RoadmapParseError) as refused:
        parse_roadmap_upload(OLE_DOC, "plan.doc")
    assert_clear(refused.value)
    assert "docx" in str(refused.value)


def test_a_conversion_that_hangs_is_stopped_with_its_children(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    # A stand-in for soffice that starts a child and never ends: the whole group must go.
    fake = tmp_path / "soffice"
    marker = tmp_path / "child.pid"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {marker}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setattr(reading, "soffice_binary", lambda: str(fake))
    started = time.monotonic()
    with pytest.raises(RoadmapParseError) as refused:
        reading.convert_to_docx(OLE_DOC, "doc", tmp_path, timeout=1.0)
    assert time.monotonic() - started < 5
    assert_clear(refused.value)
    assert _ends_within(int(marker.read_text()), seconds=5)


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether the process ends before the deadline: a pidfd turns readable when it exits (a
    killed process takes a moment to leave the running state)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # already gone
    try:
        readable, _, _ = select.select([handle], [], [], seconds)
        return bool(readable)
    finally:
        os.close(handle)
