"""What Cleo's answers mean to us: folders, files and the outcome of an upload.

Parsing is strict about what we rely on (id, name, the links we follow) and lenient about
the rest, so an extra field at a real tenant changes nothing and a missing one fails with
a message that names it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.failures import DataFailure


@dataclass(frozen=True)
class CleoFolder:
    id: str
    name: str
    kind: str  # "Upload" or "Download", as Cleo calls its mailbox folders
    links: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CleoFolder:
        return cls(id=_required(data, "id", "folder"), name=_required(data, "name", "folder"),
                   kind=str(data.get("type", "")), links=links_of(data))

    def link(self, rel: str) -> str:
        return _link(self.links, rel, f"folder '{self.name}'")


@dataclass(frozen=True)
class CleoFile:
    id: str
    name: str
    size: int | None
    created: datetime | None
    links: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CleoFile:
        meta = data.get("meta") or {}
        size = data.get("size")
        return cls(
            id=_required(data, "id", "file"),
            name=_required(data, "name", "file"),
            size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
            created=parse_timestamp(meta.get("created")),
            links=links_of(data),
        )

    def link(self, rel: str) -> str:
        return _link(self.links, rel, f"file '{self.name}'")

    def to_json(self) -> dict[str, Any]:
        """As Cleo lists it (what from_json reads back): kept as a listed file's raw input."""
        return {"id": self.id, "name": self.name, "size": self.size,
                "meta": {"created": self.created.isoformat() if self.created else None},
                "_links": {rel: {"href": href} for rel, href in self.links.items()}}

    def sort_key(self) -> datetime:
        return self.created or datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UploadResult:
    """How an upload ended: the file as Cleo holds it, and whether we found it already there
    (a try whose answer was lost had stored it) instead of creating it on this call."""

    file: CleoFile
    found_existing: bool
    tries: int


def links_of(data: dict[str, Any]) -> dict[str, str]:
    links = data.get("_links") or {}
    return {rel: str(value["href"]) for rel, value in links.items() if isinstance(value, dict) and value.get("href")}


def parse_timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    # Python 3.11 reads at most 6 fractional digits; some servers send 7 or 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise DataFailure(f"Cleo returned a {what} without '{key}'", system="cleo")
    return value


def _link(links: dict[str, str], rel: str, what: str) -> str:
    try:
        return links[rel]
    except KeyError:
        offered = ", ".join(sorted(links)) or "none"
        raise DataFailure(f"Cleo's {what} has no '{rel}' link (links offered: {offered})", system="cleo") from None


def unique_upload_name(partner: str, document_key: str, now: datetime, *, extension: str = "edi") -> str:
    """A file name no other upload will ever have: partner, document, UTC time to the µs.

    Cleo has no idempotency key and keeps a re-upload as a second file, so the name is our
    key: it is saved on the Document before the first try and searched for before any other.
    Anything but letters, digits, '.' and '-' becomes '-': '_' separates the parts."""
    if now.tzinfo is None:
        raise ValueError("unique_upload_name needs an aware datetime")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    parts = [_safe(partner), _safe(document_key), stamp]
    return "_".join(p for p in parts if p) + (f".{_safe(extension)}" if extension else "")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", text.strip()).strip("-.")

