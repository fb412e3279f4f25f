"""One ar-810 cycle for one tenant: read posted AR invoices since the cursor, keep one Document
per invoice, move the cursor past them, then push every waiting document through its steps.

Receiving comes before processing on purpose. A document is committed the moment it is
received, so the cursor may pass it right away and never has to wait on Cleo; a worker that
dies half-way through a document leaves it received (or mapped with a step to run), and the
next cycle resumes it from its step. Invoices are re-read with a lookback, and the unique
(tenant, flow, invoice key) turns every re-read into a lookup: "duplicate" in the counts.
An invoice whose client has no trading partner is processed like any other and waits in
needs_mapping with the client's name: kept, never dropped. Last, the partners' folders are
read for their 997s (edi.inbox), which mark the 810s they answer.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from connector.documents import document_receive
from connector.locks import exclusive
from connector.models import Document, DocumentState, SyncRun
from connector.pipeline import document_process
from connector.sync import cursor_advance, cursor_read, sync_run_count, sync_run_progress
from connector.vantagepoint.records import format_datetime, parse_datetime

from ..clients import vantagepoint_client
from . import AR_810
from .mapping import ar_invoice_to_json

STREAM = "vantagepoint:ar-invoices"
# Re-read this far behind the cursor: a posting committed late with an earlier PostDate is
# still seen. Every invoice re-read costs one lookup, never a second document.
LOOKBACK = timedelta(minutes=10)
# Reads per cycle when Vantagepoint has more than one read's worth (50 pages of 200 rows).
MAX_READS = 20
OUTCOMES = {
    DocumentState.SENT: "sent", DocumentState.ACKNOWLEDGED: "sent", DocumentState.REJECTED: "sent",
    DocumentState.NEEDS_MAPPING: "needs_mapping", DocumentState.FAILED: "failed",
    DocumentState.RETRYING: "retrying",
}


def ar_810_poll(*, run: SyncRun, trigger: str, user: AbstractBaseUser | None = None) -> dict[str, Any]:
    """The cycle `manage.py sync ar-810` and the beat task run; counts land on the SyncRun."""
    for key in ("seen", "new", "duplicate", "sent", "failed", "needs_mapping"):
        run.counts.setdefault(key, 0)
    ar_invoices_receive(run=run)
    ar_documents_process_waiting(run=run, trigger=trigger, user=user)
    acknowledgments_collect(run=run, trigger=trigger, user=user)
    return {}


def ar_invoices_receive(*, run: SyncRun) -> None:
    """Read since the cursor; one Document per invoice key; advance the cursor past them."""
    tenant = run.tenant
    run.cursor_before = cursor_read(tenant=tenant, stream=STREAM)
    cursor = parse_datetime(run.cursor_before, "cursor") if run.cursor_before else None
    with vantagepoint_client(tenant) as vp:
        for _ in range(MAX_READS):
            page = vp.ar_invoices_since(cursor, field="PostDate", lookback=LOOKBACK)
            for invoice in page.invoices:
                _, created = document_receive(
                    tenant=tenant, flow=AR_810, external_key=invoice.key, raw=ar_invoice_to_json(invoice),
                    source=f"Vantagepoint AR ledger: invoice {invoice.invoice}, period {invoice.period}, "
                           f"posting {invoice.post_seq}, posted {invoice.post_date:%Y-%m-%d %H:%M:%S}",
                )
                sync_run_count(run, "seen")
                sync_run_count(run, "new" if created else "duplicate")
            # Every invoice read is a committed document now: the cursor may pass them.
            if page.next_cursor is not None and page.next_cursor != cursor:
                cursor = page.next_cursor
                run.cursor_after = format_datetime(cursor)
                cursor_advance(tenant=tenant, stream=STREAM, value=run.cursor_after)
            run.progress = f"read up to {format_datetime(cursor)}" if cursor else "nothing posted yet"
            if page.complete:
                break


def ar_documents_process_waiting(*, run: SyncRun, trigger: str, user: AbstractBaseUser | None = None) -> None:
    """Push every document this flow left half-way (new ones included) through its steps.

    Each under the same per-document lock a replay takes, so a human's replay and the cycle
    never run one document at once; a document someone else holds is left for next time.
    """
    waiting = list(Document.objects.filter(documents_waiting(tenant_id=run.tenant_id)).order_by("pk")
                   .values_list("pk", flat=True))
    for done, pk in enumerate(waiting):
        sync_run_progress(run, done=done, total=len(waiting), text="sending invoices")
        with exclusive(f"document:{pk}") as acquired:
            if not acquired:
                sync_run_count(run, "busy")
                continue
            document = Document.objects.filter(documents_waiting(tenant_id=run.tenant_id), pk=pk).first()
            if document is None:
                continue  # finished by someone else since the list was read
            document.tenant = run.tenant  # one tenant object: the clients share its cached tokens
            document_process(document, trigger=trigger, user=user)
        outcome = OUTCOMES.get(document.state)
        if outcome:
            sync_run_count(run, outcome)
    sync_run_progress(run, done=len(waiting), total=len(waiting))


def acknowledgments_collect(*, run: SyncRun, trigger: str, user: AbstractBaseUser | None = None) -> None:
    """Take in the partners' files, so their 997s mark our 810s (edi.inbox reads the folders
    both EDI flows share and hands each 997 to edi.outbound.acks). Its counts are prefixed:
    "seen" there means files, here invoices. Problems with inbound files are the inbound
    flow's to fail on; here they are counted and in the audit trail, and the 810s still go."""
    from ..inbox import inbox_collect  # the inbox imports the inbound flow: load it only when polling

    for key, value in inbox_collect(tenant=run.tenant, trigger=trigger, user=user).items():
        sync_run_count(run, f"inbox_{key}", value)


def documents_waiting(*, tenant_id: int) -> Q:
    """Documents of this flow with a step still to run that no retry schedule owns:
    received, or mapped with a step to run (a crash between steps)."""
    return (Q(tenant_id=tenant_id, flow=AR_810)
            & (Q(state=DocumentState.RECEIVED) | (Q(state=DocumentState.MAPPED) & ~Q(step=""))))


__all__ = ["LOOKBACK", "STREAM", "acknowledgments_collect", "ar_810_poll", "ar_documents_process_waiting",
           "ar_invoices_receive", "documents_waiting"]
