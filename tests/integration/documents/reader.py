"""Open documents the way a user's office suite would: LibreOffice headless converts them to PDF
(all in one run), poppler's ``pdftotext`` reads the text back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.documents.pdf import convert_to_pdf


def pdf_text(pdf: Path) -> str:
    result = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                            check=True, timeout=60)
    # -raw keeps the document's order (a table cell by cell); line breaks fall wherever the
    # layout wrapped, so compare words, not lines. A narrow cell may also wrap right after a
    # hyphen ("school-" / "a"), which is still one word.
    return " ".join(result.stdout.decode().replace("-\n", "-").split())


def read_documents(documents: dict[str, bytes], workdir: Path, profile: Path) -> dict[str, str]:
    """name → text of the PDF LibreOffice made from that DOCX."""
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in documents.items():
        path = workdir / f"{name}.docx"
        path.write_bytes(content)
        paths.append(path)
    pdfs = convert_to_pdf(paths, workdir / "pdf", profile)
    return {name: pdf_text(pdf) for name, pdf in zip(documents, pdfs, strict=True)}
