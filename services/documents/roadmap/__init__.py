"""Roadmap (дорожная карта) import: the core the documents service calls.

``reading`` tells what an uploaded file is (converting .doc/.odt with LibreOffice); ``parser``
builds a :class:`Roadmap` from it; ``layout`` finds rows and cells, ``items`` reads them as
activities, ``deadlines`` reads Russian deadline phrases, ``models`` holds the value objects and
``limits`` the bounds that keep any file quick to read.
"""

from services.documents.roadmap.models import Period, Roadmap, RoadmapItem, RoadmapParseError
from services.documents.roadmap.parser import (
    parse_deadline,
    parse_roadmap_docx,
    parse_roadmap_text,
)
from services.documents.roadmap.reading import parse_roadmap_file, parse_roadmap_upload

__all__ = [
    "Period",
    "Roadmap",
    "RoadmapItem",
    "RoadmapParseError",
    "parse_deadline",
    "parse_roadmap_docx",
    "parse_roadmap_file",
    "parse_roadmap_text",
    "parse_roadmap_upload",
]
