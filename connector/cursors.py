"""Cursors, and reading a flow's stream since its own (see connector/streams.py).

One SyncCursor per (tenant, cursor name); the name is the flow's ("<flow>:<stream>"), the value
the stream's own text (a Vantagepoint date, a sequence number). `stream_receive` is the one
service that reads: one Document per record, the cursor moved only past committed documents.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tenants.models import Tenant

from .counts import sync_run_add
from .documents import documents_receive
from .models import SyncCursor, SyncRun

if TYPE_CHECKING:
    from .flows import Flow


def cursor_read(*, tenant: Tenant, stream: str) -> str:
    """The stored value of a cursor (by its full name), "" when it was never set."""
    cursor = SyncCursor.objects.filter(tenant=tenant, stream=stream).first()
    return cursor.value if cursor else ""


def cursor_advance(*, tenant: Tenant, stream: str, value: str) -> None:
    """Called only after the documents up to `value` are committed."""
    SyncCursor.objects.update_or_create(tenant=tenant, stream=stream, defaults={"value": value})


def stream_receive(*, run: SyncRun, flow: Flow) -> dict[str, int]:
    """Read the flow's stream since its cursor: one Document per record, the cursor moved past
    each page once its documents are committed. Counts (seen, new, duplicate) go on the run
    page by page, and are returned."""
    stream = flow.stream
    if stream is None:
        raise ValueError(f"flow {flow.name} declares no stream")
    tenant, name = run.tenant, flow.cursor_name
    cursor = run.cursor_before = cursor_read(tenant=tenant, stream=name)
    totals = {"seen": 0, "new": 0, "duplicate": 0}
    for _ in range(stream.max_reads):
        page = stream.read(tenant=tenant, cursor=cursor, lookback=stream.lookback)
        new, duplicate = documents_receive(tenant=tenant, flow=flow.name, records=[
            {"external_key": r.key, "raw": r.raw, "source": r.source[:255], "mapped": r.mapped} for r in page.records])
        counts = {"seen": len(page.records), "new": new, "duplicate": duplicate}
        # Every record read is a committed document now: the cursor may pass them.
        if page.next_cursor and page.next_cursor != cursor:
            cursor = run.cursor_after = page.next_cursor
            cursor_advance(tenant=tenant, stream=name, value=cursor)
        sync_run_add(run, counts)
        for key, value in counts.items():
            totals[key] += value
        run.progress = f"read up to {cursor}" if cursor else "nothing to read yet"
        if page.complete:
            break
    return totals


__all__ = ["cursor_advance", "cursor_read", "stream_receive"]
