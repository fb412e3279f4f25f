"""An AR invoice changed in Vantagepoint after its 810 went out: noticed, flagged, never re-sent.

The ar-810 stream reads invoices by PostDate; an edit to a posted invoice moves its ModDate
instead. So each ar-810 cycle, after its stream, reads the invoices modified since a cursor of
its own ("ar-810:vantagepoint:ar-invoices-modified", starting where the stream's cursor is the
first time) and compares each one whose 810 went out (sent, acknowledged, rejected) with what
was sent: a hash of the invoice as the document holds it against the hash of the invoice as
Vantagepoint has it now, both without ModDate (a save that changed nothing is not a change).
A difference sets `Document.source_changed_at`, keeps what changed in
`external_ids["source_changed"]` (the new hash, the totals and line counts, when) and writes a
`source_changed` audit event; the document list and page show a badge, and the overview
counts them. The 810 is not sent again: the partner already has an invoice with this number,
so a human decides (a corrected or credit invoice in Vantagepoint, or the partner told).
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from connector.clients import vantagepoint_client
from connector.cursors import cursor_advance, cursor_read
from connector.documents import audit_record
from connector.models import Document, DocumentState, SyncRun
from connector.vantagepoint import ARInvoice
from connector.vantagepoint.ar_invoices import AR_INVOICES, LOOKBACK, ar_invoice_to_json
from connector.vantagepoint.records import format_datetime, parse_datetime

from . import AR_810

MODIFIED_CURSOR = f"{AR_810}:vantagepoint:ar-invoices-modified"
WENT_OUT = (DocumentState.SENT, DocumentState.ACKNOWLEDGED, DocumentState.REJECTED)
IGNORED_FIELDS = ("mod_date",)


def invoice_content_hash(data: dict[str, Any]) -> str:
    """The invoice's content (the JSON a document keeps, as a dict) without its ModDate."""
    content = {k: v for k, v in data.items() if k not in IGNORED_FIELDS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _as_data(invoice: ARInvoice) -> dict[str, Any]:
    return json.loads(ar_invoice_to_json(invoice))


def ar_invoice_changes_poll(*, run: SyncRun, trigger: str = "", user: Any = None) -> dict[str, int]:
    """The ar-810 cycle's second read (Flow.poll): invoices modified since its cursor, each
    compared with the 810 that went out. Returns {"source_changed": n} when some were flagged."""
    tenant = run.tenant
    cursor = cursor_read(tenant=tenant, stream=MODIFIED_CURSOR) or \
        cursor_read(tenant=tenant, stream=f"{AR_810}:{AR_INVOICES.name}")
    if not cursor:
        return {}  # before the stream's first read there is nothing sent to compare with
    with vantagepoint_client(tenant) as vp:
        page = vp.ar_invoices_since(parse_datetime(cursor, "cursor"), field="ModDate", lookback=LOOKBACK)
    flagged = invoices_compare(tenant_id=tenant.pk, invoices=page.invoices)
    if page.next_cursor is not None:
        cursor_advance(tenant=tenant, stream=MODIFIED_CURSOR, value=format_datetime(page.next_cursor))
    return {"source_changed": flagged} if flagged else {}


def invoices_compare(*, tenant_id: int, invoices: list[ARInvoice]) -> int:
    """Flag each document whose invoice went out and differs now; returns how many were flagged."""
    by_key = {invoice.key: invoice for invoice in invoices}
    documents = Document.objects.filter(tenant_id=tenant_id, flow=AR_810, external_key__in=list(by_key),
                                        state__in=WENT_OUT).select_related("tenant")
    flagged = 0
    for document in documents:
        now_data = _as_data(by_key[document.external_key])
        now_hash = invoice_content_hash(now_data)
        try:
            sent_data = json.loads(document.raw)
        except ValueError:
            continue
        seen = (document.external_ids.get("source_changed") or {}).get("hash")
        if now_hash in (invoice_content_hash(sent_data), seen):
            continue
        _flag(document, sent=sent_data, now=now_data, now_hash=now_hash)
        flagged += 1
    return flagged


def _total(data: dict[str, Any]) -> str:
    return str(sum((Decimal(str(line.get("amount", "0"))) for line in data.get("lines") or ()), Decimal("0")))


def _what_changed(sent: dict[str, Any], now: dict[str, Any]) -> str:
    words = []
    if _total(sent) != _total(now):
        words.append(f"total {_total(sent)} → {_total(now)}")
    if len(sent.get("lines") or ()) != len(now.get("lines") or ()):
        words.append(f"lines {len(sent.get('lines') or ())} → {len(now.get('lines') or ())}")
    fields = [k for k in sorted(set(sent) | set(now)) if k not in ("lines", *IGNORED_FIELDS) and sent.get(k) != now.get(k)]
    if fields:
        words.append("changed: " + ", ".join(fields))
    if not words:
        words.append("line details changed")
    return "; ".join(words)


def _flag(document: Document, *, sent: dict[str, Any], now: dict[str, Any], now_hash: str) -> None:
    when = timezone.now()
    what = _what_changed(sent, now)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        locked.source_changed_at = when
        locked.external_ids = {**locked.external_ids, "source_changed": {
            "hash": now_hash, "at": when.isoformat(), "mod_date": now.get("mod_date"), "what": what,
            "total_sent": _total(sent), "total_now": _total(now)}}
        locked.save(update_fields=["source_changed_at", "external_ids", "updated_at"])
        audit_record(tenant=document.tenant, document=locked, action="source_changed", from_state=locked.state,
                     to_state=locked.state,
                     reason=f"invoice {sent.get('invoice', '')} changed in Vantagepoint after its 810 was sent "
                            f"({what}): not sent again; correct it with the partner by hand")


__all__ = ["MODIFIED_CURSOR", "ar_invoice_changes_poll", "invoice_content_hash", "invoices_compare"]
