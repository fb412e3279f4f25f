"""Input streams: what a flow reads since its cursor, one Document per record.

A flow declares its input as a `Stream` (Flow.stream). The stream knows how to read a page of
records since a cursor value (and how far behind the cursor to re-read: its lookback); the
engine owns everything around that:

- the cursor is the flow's own: named "<flow>:<stream>" (Flow.cursor_name), so ar-810 and
  ar-stripe both reading AR invoices each keep their place;
- each record becomes one Document (connector.documents.document_receive, deduplicated by the
  database on (tenant, flow, key)), so a record re-read through the lookback is a lookup,
  counted as "duplicate", never a second document;
- the cursor moves only after the page's documents are committed, and only forward.

    AR_INVOICES = Stream(name="vantagepoint:ar-invoices", read=read_ar_invoices,
                         lookback=timedelta(minutes=10))
    register(Flow(name="ar-stripe", ..., stream=AR_INVOICES))
    # each cycle: connector.cursors.stream_receive(run=run, flow=flow) -> {"seen": 3, "new": 2, "duplicate": 1}

A reader is `read(*, tenant, cursor, lookback) -> StreamPage`: `cursor` is the stored value
("" before the first read), `lookback` the stream's. It returns the records from
`cursor - lookback` on, in the order the cursor advances, and where the next read starts.

This module only declares (it imports no model, so a flow module can be loaded before Django
is set up); connector/cursors.py reads streams and keeps the cursors.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tenants.models import Tenant


@dataclass(frozen=True)
class StreamRecord:
    """One record read: its key in the source system, and the raw input kept on the Document."""

    key: str
    raw: str
    source: str = ""
    mapped: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamPage:
    records: Sequence[StreamRecord]
    # Where the next read starts once these records are committed; None (or the cursor it was
    # read from) leaves the cursor where it is.
    next_cursor: str | None
    # False: the source holds more right now; the engine reads again (up to Stream.max_reads).
    complete: bool = True


class StreamReader(Protocol):
    def __call__(self, *, tenant: Tenant, cursor: str, lookback: timedelta) -> StreamPage: ...


@dataclass(frozen=True)
class Stream:
    """A kind of record a system offers since a cursor, e.g. Vantagepoint's posted AR invoices."""

    name: str  # "<system>:<records>", e.g. "vantagepoint:ar-invoices"
    read: StreamReader
    # Re-read this far behind the cursor, so a record committed late with an earlier timestamp
    # is still seen; each re-read costs one lookup, never a second document.
    lookback: timedelta = timedelta(0)
    # Reads per cycle when the source has more than one read's worth.
    max_reads: int = 20


__all__ = ["Stream", "StreamPage", "StreamReader", "StreamRecord"]
