"""From an uploaded file to a :class:`Roadmap`: what the bytes are, which reader takes them.

The content decides, not the name: a Word 2007+ document (a zip holding ``word/document.xml``)
is read structurally; a Word 97-2003 ``.doc``, an OpenDocument ``.odt`` or an RTF file is first
converted to ``.docx`` by LibreOffice (when ``soffice`` is installed) in a temporary folder with
a timeout; anything else is read as a text export.  Every refusal is a
:class:`RoadmapParseError` with a code and a Russian message: no library's English error and no
server path reaches the user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

from services.documents.roadmap.limits import MAX_TEXT_CHARS, too_large, unreadable_word
from services.documents.roadmap.models import Roadmap, RoadmapParseError
from services.documents.roadmap.parser import parse_roadmap_docx, parse_roadmap_text

CONVERSION_TIMEOUT_SECONDS = 60.0
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FORMAT_TITLES = {"doc": "Word 97–2003 (.doc)", "odt": "OpenDocument (.odt)", "rtf": "RTF"}


def sniff(data: bytes) -> str:
    """"docx", "doc", "odt", "rtf", "zip" (a broken or foreign container) or "text"."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                names = set(archive.namelist())
                if "word/document.xml" in names:
                    return "docx"
                if "mimetype" in names and archive.read("mimetype")[:60].startswith(
                        b"application/vnd.oasis.opendocument.text"):
                    return "odt"
        except (zipfile.BadZipFile, OSError, ValueError, KeyError):
            pass
        return "zip"
    if data[:8] == _OLE_MAGIC:
        return "doc"
    if data[:4] == _OLE_MAGIC[:4]:  # the start of a Word 97 file cut short
        return "zip"
    if data.lstrip()[:5] == b"{\\rtf":
        return "rtf"
    return "text"


def parse_roadmap_upload(data: bytes, filename: str = "") -> Roadmap:
    """Parse an uploaded roadmap of any supported kind; the one entry point of the service.

    ``filename`` is accepted for the callers' sake and never trusted: the content decides."""
    kind = sniff(data)
    if kind == "zip":
        raise unreadable_word()
    if kind == "text":
        return parse_roadmap_text(decode_text(data))
    with tempfile.TemporaryDirectory(prefix="nastavnik-roadmap-") as tmp:
        folder = Path(tmp)
        if kind == "docx":
            source = folder / "roadmap.docx"
            source.write_bytes(data)
            return parse_roadmap_docx(source)
        converted = convert_to_docx(data, kind, folder)
        return parse_roadmap_docx(converted)


def parse_roadmap_file(path: Path) -> Roadmap:
    """Parse a roadmap file from disk (the command line's entry point)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RoadmapParseError("Не удалось прочитать файл дорожной карты") from error
    return parse_roadmap_upload(data, path.name)


def decode_text(data: bytes) -> str:
    """Text exports come as UTF-8 (with or without BOM) or, from Windows, CP1251."""
    if len(data) > MAX_TEXT_CHARS * 2:  # two bytes per Cyrillic letter in UTF-8
        raise too_large(f"больше {MAX_TEXT_CHARS // 1_000_000} млн знаков")
    if b"\x00" in data[:4096]:
        raise RoadmapParseError(
            "Файл не похож ни на документ Word, ни на текст: сохраните дорожную карту как .docx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def soffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_docx(data: bytes, kind: str, folder: Path,
                    timeout: float = CONVERSION_TIMEOUT_SECONDS) -> Path:
    """Convert a .doc/.odt/.rtf document with LibreOffice; returns the .docx in ``folder``."""
    title = _FORMAT_TITLES.get(kind, kind)
    binary = soffice_binary()
    if binary is None:
        raise RoadmapParseError(
            f"Формат {title} на сервере не читается: сохраните документ в формате .docx или как текст")
    source = folder / f"roadmap.{kind}"
    source.write_bytes(data)
    outdir, profile = folder / "out", folder / "profile"
    command = [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", "docx", "--outdir", str(outdir), str(source)]
    # Its own session, so that a timeout ends soffice.bin too and not only the launcher.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "HOME": str(folder)})
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise RoadmapParseError(
            f"Документ {title} не удалось преобразовать за {int(timeout)} с: "
            "сохраните его в формате .docx и загрузите снова") from None
    converted = outdir / "roadmap.docx"
    if process.returncode != 0 or not converted.exists():
        raise RoadmapParseError(
            f"Не удалось прочитать документ {title}: файл повреждён или это не документ. "
            "Сохраните его в формате .docx и загрузите снова")
    return converted
