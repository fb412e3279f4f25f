"""X12 as people read it: one segment per line, each ending in its terminator.

Used wherever a page shows an 810 or a 997 (a document's produced file, a partner's file, our
997 back). What is shown is a view: downloads give the bytes as they were sent or received.
"""
from __future__ import annotations

from .x12 import X12Error
from .x12.reader import detect_delimiters


def x12_segment_lines(text: str) -> str:
    """`text` one segment per line; text that is not X12 comes back unchanged."""
    body = text.lstrip("\ufeff \t\r\n")
    try:
        delimiters = detect_delimiters(body)
    except X12Error:
        return text
    if delimiters is None:
        return text
    terminator = delimiters.segment
    segments = (segment.strip("\r\n") for segment in body.split(terminator))
    return "\n".join(segment + terminator for segment in segments if segment.strip())


def x12_one_segment_per_line(document) -> str:
    """A document's produced file (an 810 we sent, our 997) as the page shows it."""
    return x12_segment_lines(document.artifact)
