"""How the document page shows what an EDI flow produced (an 810 we sent, our 997)."""
from __future__ import annotations

from connector.models import Document


def x12_one_segment_per_line(document: Document) -> str:
    """The artifact one segment per line, as people read X12 (anything else as it is)."""
    text = document.artifact
    if not text.startswith("ISA") or len(text) < 106:
        return text
    terminator = text[105]
    segments = (segment.strip("\r\n") for segment in text.split(terminator))
    return "\n".join(segment + terminator for segment in segments if segment)
