"""Upload guards: one size limit for every uploaded file, its real type by content, zip bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.errors import DomainError

#: The one limit for uploaded files (XLSX, CSV, DOCX), wherever they arrive.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: What a multipart body may carry besides the file: boundaries, part headers, form fields.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


UploadKind = Literal["xlsx", "docx", "csv", "txt"]


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_entries: int = 1000
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0
    #: Small parts compress well legitimately; the ratio applies only above this size.
    ratio_min_bytes: int = 1024 * 1024


OOXML_MAIN_PART: dict[str, str] = {"xlsx": "xl/workbook.xml", "docx": "word/document.xml"}
FORMAT_TITLES = {"xlsx": "книга Excel (.xlsx)", "docx": "документ Word (.docx)",
                 "csv": "таблица CSV", "txt": "текстовый файл"}


def upload_rejected(code: str, message: str, status: int = 422) -> DomainError:
    return DomainError(code, message, status)


def _bomb() -> DomainError:
    return upload_rejected("ZIP_BOMB", "Файл отклонён: внутри архива слишком много данных или "
                           "подозрительно высокая степень сжатия", 413)


def check_zip_bomb(data: bytes, limits: ZipLimits = ZipLimits()) -> None:
    """Refuse an archive whose directory promises too much; anything that is not a readable zip
    is left to the format's own parser (which reports it in its own words)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # not a zip at all: nothing to inflate
        return
    with archive:
        _check_sizes(archive.infolist(), limits)


def _check_sizes(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    # Declared sizes are enforced by zipfile while reading (it stops at file_size and fails
    # the CRC), so checking the directory before inflating anything is sound.
    if len(infos) > limits.max_entries:
        raise _bomb()
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise _bomb()
    for info in infos:
        if info.file_size > limits.ratio_min_bytes and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _bomb()
    if total > limits.ratio_min_bytes and total > limits.max_ratio * max(packed, 1):
        raise _bomb()


def check_ooxml(data: bytes, kind: Literal["xlsx", "docx"], limits: ZipLimits = ZipLimits()) -> None:
    """Inspect an Office Open XML archive's directory before any parser decompresses it."""
    corrupt = upload_rejected("CORRUPT_FILE", f"Файл повреждён или не является: {FORMAT_TITLES[kind]}")
    if not data.startswith(b"PK\x03\x04"):
        raise corrupt
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # zipfile raises several types on garbage; all mean "not a zip"
        raise corrupt from None
    with archive:
        infos = archive.infolist()
        _check_sizes(infos, limits)
        names = [i.filename for i in infos]
        if len(set(names)) != len(names) or "[Content_Types].xml" not in names \
                or OOXML_MAIN_PART[kind] not in names:
            raise corrupt
        if any(i.flag_bits & 0x1 for i in infos):  # encrypted parts
            raise corrupt
        if any(i.filename.startswith("/") or ".." in i.filename.split("/") for i in infos):
            raise corrupt
        try:
            for info in infos:
                if info.filename.endswith((".xml", ".rels")):
                    with archive.open(info) as part:
                        head = part.read(4096).lower()
                    # Real OOXML never carries a DTD: refuse entity-expansion tricks up front.
                    if b"<!doctype" in head or b"<!entity" in head:
                        raise corrupt
        except DomainError:
            raise
        except Exception:
            raise corrupt from None


def sniff_kind(data: bytes) -> UploadKind | None:
    """What the bytes are, whatever the file is called."""
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:
            return None
        for kind, part in OOXML_MAIN_PART.items():
            if part in names:
                return kind  # type: ignore[return-value]
        return None
    if b"\x00" in data[:8192]:
        return None  # binary: an executable, an image, an old .doc/.xls
    return "txt"


def check_upload(data: bytes, filename: str, allowed: Iterable[UploadKind],
                 max_bytes: int = MAX_UPLOAD_BYTES, limits: ZipLimits = ZipLimits()) -> UploadKind:
    """Size, real type (by content, not name) and, for archives, zip-bomb checks. Returns the kind."""
    allowed = tuple(allowed)
    if len(data) > max_bytes:
        raise upload_rejected("FILE_TOO_LARGE", f"Файл больше {max_bytes // (1024 * 1024)} МБ", 413)
    if not data.strip():
        raise upload_rejected("EMPTY_FILE", "Файл пуст")
    kind = sniff_kind(data)
    if kind == "txt" and "csv" in allowed and filename.lower().endswith(".csv"):
        kind = "csv"
    if kind == "txt" and "txt" not in allowed and "csv" in allowed:
        kind = "csv"
    if kind is None or kind not in allowed:
        titles = ", ".join(FORMAT_TITLES[k] for k in allowed)
        raise upload_rejected("UNSUPPORTED_FORMAT", f"Неподдерживаемый тип файла. Нужен: {titles}", 415)
    if kind in ("xlsx", "docx"):
        check_ooxml(data, kind, limits)  # type: ignore[arg-type]
    return kind
