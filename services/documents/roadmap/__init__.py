"""Roadmap (дорожная карта) import: the core the documents service calls.

``parser`` builds a :class:`Roadmap` from a file; ``layout`` finds rows and cells, ``items``
reads them as activities, ``deadlines`` reads Russian deadline phrases, ``models`` holds the
value objects.
"""

from services.documents.roadmap.models import Period, Roadmap, RoadmapItem, RoadmapParseError
from services.documents.roadmap.parser import (
    parse_deadline,
    parse_roadmap_docx,
    parse_roadmap_file,
    parse_roadmap_text,
)

__all__ = [
    "Period",
    "Roadmap",
    "RoadmapItem",
    "RoadmapParseError",
    "parse_deadline",
    "parse_roadmap_docx",
    "parse_roadmap_file",
    "parse_roadmap_text",
]
