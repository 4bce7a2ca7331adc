"""Bulk import of mentors and mentees from XLSX/CSV files uploaded by schools.

The flow is deliberately all-or-nothing: :func:`validate_import` checks the
whole file and reports every problem at once with the line the curator sees in
Excel, so a curator fixes the file in one pass instead of uploading it ten
times. Rows are only importable when :attr:`ImportResult.ok` is true.

Uploaded bytes are untrusted. Size, format and zip-bomb checks run before any
parser sees the data, and parser failures are turned into file errors, so an
upload can never crash the caller.

  * ``files``      — reading XLSX/CSV safely into rows (limits, encodings, delimiters);
  * ``headers``    — which column holds which field;
  * ``categories`` — the curator's wording of a category, as a code;
  * ``rows``       — checking every row, the result of an import;
  * ``template``   — the workbook curators fill in.
"""

from services.registry.importing.categories import CATEGORY_LABELS, Role, parse_category
from services.registry.importing.files import FileProblem, ImportLimits, read_table
from services.registry.importing.headers import classify_header
from services.registry.importing.rows import ImportResult, PersonRow, RowError, validate_import
from services.registry.importing.template import template_xlsx

__all__ = [
    "CATEGORY_LABELS",
    "FileProblem",
    "ImportLimits",
    "ImportResult",
    "PersonRow",
    "Role",
    "RowError",
    "classify_header",
    "parse_category",
    "read_table",
    "template_xlsx",
    "validate_import",
]
