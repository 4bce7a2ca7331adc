"""DOCX → PDF with LibreOffice headless, the same reader the tests use to open the documents.

One ``soffice`` process converts many files at once (start-up is most of its cost), and each
caller passes a profile directory of its own: two instances sharing one profile refuse to run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from shared.errors import DomainError

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def soffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _lock_for(profile_dir: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(profile_dir.resolve()), threading.Lock())


def convert_to_pdf(paths: Sequence[Path], outdir: Path, profile_dir: Path,
                   timeout: float = 180.0) -> list[Path]:
    """Convert every DOCX in ``paths`` in one LibreOffice run; returns the PDFs in that order."""
    binary = soffice_binary()
    if binary is None:
        raise DomainError("PDF_UNAVAILABLE",
                          "Преобразование в PDF недоступно: на сервере не установлен LibreOffice", 503)
    outdir.mkdir(parents=True, exist_ok=True)
    profile_dir.mkdir(parents=True, exist_ok=True)
    command = [binary, f"-env:UserInstallation={profile_dir.resolve().as_uri()}", "--headless",
               "--norestore", "--convert-to", "pdf", "--outdir", str(outdir),
               *(str(p) for p in paths)]
    with _lock_for(profile_dir):
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    pdfs = [outdir / f"{Path(p).stem}.pdf" for p in paths]
    missing = [p.name for p in pdfs if not p.exists()]
    if result.returncode != 0 or missing:
        raise DomainError("PDF_CONVERSION_FAILED",
                          "Не удалось преобразовать документ в PDF", 500,
                          details=[{"missing": missing, "stderr": result.stderr.decode()[-500:]}])
    return pdfs


def docx_to_pdf(data: bytes, profile_dir: Path) -> bytes:
    with tempfile.TemporaryDirectory(prefix="nastavnik-pdf-") as tmp:
        source = Path(tmp) / "document.docx"
        source.write_bytes(data)
        (pdf,) = convert_to_pdf([source], Path(tmp) / "out", profile_dir)
        return pdf.read_bytes()
