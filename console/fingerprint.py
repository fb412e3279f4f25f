"""An error message with its particulars folded, so documents failing the same way group
together: "invoice 1002 has no lines" and "invoice 1003 has no lines" are one problem.

Folded: quoted values, URLs, file names, dates and times, amounts, uuids and hashes, ids
(any word with a digit in it: DS-1002, ZZ:ACME01, 0000035:202406:1) and plain numbers.
Kept, because they change what the problem is: HTTP statuses after "answered"/"status"
(a 404 is not a 503), X12 element references (BIG02 is not N104), the words 810 and 997,
and every other word (the system prefix, "vendor", "has no trading partner").
"""
from __future__ import annotations

import hashlib
import re

PATTERN_MAX_CHARS = 1000

_QUOTED = re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_FILE = re.compile(r"(?<![\w./])[\w./-]*[\w-]\.(x12|edi|txt|csv|json|xml|pdf|dat|zip|gz|810|997|in|out)\b", re.IGNORECASE)
_DATETIME = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?:\s?UTC)?\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b", re.IGNORECASE)
_AMOUNT = re.compile(r"(?<![\w.])[-+]?[$€£]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w.])|(?<![\w.])[-+]?[$€£]?\d+\.\d+(?![\w.])"
                     r"|(?<![\w.])[$€£]\d+(?![\w.])")
# "answered 503", "status 404", "HTTP 429", "(429)": a status says what kind of problem it is.
_STATUS = re.compile(r"\b(answered|status|HTTP|returned|forbidden|error)\s*\(?([1-5]\d\d)\)?(?!\d)", re.IGNORECASE)
# An X12 element reference: a segment id of two or three characters and a two-digit position.
_ELEMENT = re.compile(r"\b[A-Z][A-Z0-9]{1,2}\d{2}\b")
_KEEP_WORDS = frozenset({"810", "997", "X12", "IT1", "N1", "N3", "N4", "ISA", "GS", "ST", "SE", "GE", "IEA"})
# Any word with a digit in it, made of letters, digits and the joiners ids use.
_ID = re.compile(r"(?<![\w<])[\w][\w:#.-]*\d[\w:#.-]*|(?<![\w<])\d[\w:#.-]*")
# The system a message starts with ("ar-810: …", "vantagepoint: …") is kept as it is.
_SYSTEM = re.compile(r"^[a-z][a-z0-9-]*:\s")
_SPACES = re.compile(r"\s+")


def error_pattern(message: str) -> str:
    """The message as the group reads it, e.g. "ar-810: invoice <id> has no lines"."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    kept: list[str] = []

    def keep(value: str) -> str:
        # A private-use character stands in for a kept value: no rule below matches it.
        kept.append(value)
        return chr(0xE000 + len(kept) - 1)

    text = _SYSTEM.sub(lambda m: keep(m.group(0)), text)
    text = _URL.sub("<url>", text)
    text = _QUOTED.sub(lambda m: m.group(0)[0] + "<v>" + m.group(0)[-1], text)
    text = _FILE.sub("<file>", text)
    text = _DATETIME.sub("<date>", text)
    text = _TIME.sub("<time>", text)
    text = _UUID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    text = _STATUS.sub(lambda m: keep(m.group(0)), text)
    text = _ELEMENT.sub(lambda m: keep(m.group(0)), text)
    text = _AMOUNT.sub("<amount>", text)

    def fold(match: re.Match[str]) -> str:
        word = match.group(0).rstrip(".:")
        tail = match.group(0)[len(word):]
        if word in _KEEP_WORDS:
            return match.group(0)
        return ("<n>" if word.isdigit() else "<id>") + tail

    text = _ID.sub(fold, text)
    for index, value in enumerate(kept):
        text = text.replace(chr(0xE000 + index), value)
    return _SPACES.sub(" ", text).strip()[:PATTERN_MAX_CHARS]


def fingerprint(*parts: str) -> str:
    """A stable key for a group: sha256 of its parts (the pattern, or what is missing)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
