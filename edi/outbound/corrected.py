"""Send corrected: a rejected 810 (the partner's 997 said R) goes out again, once a human has
fixed the cause, as a new ar-810 document linked both ways to the rejected one.

The rejected document keeps everything it had: its file, its control numbers (still indexed to
it in OutboundControl, so a late 997 for them still finds it) and its state. The correction
is a new document keyed "<rejected key>:corrected-<n>" (n counts the corrections of one
invoice, so two clicks make one correction), holding the same AR invoice as received; its
steps run from map, so it reads the client, project and partner settings again, gets new
control numbers and a new file name, and is uploaded as any 810. Each side names the other
(`external_ids["corrects"]`, `["corrected_by"]`), shown as linked records on both pages; the
audit trail of both says who asked and why.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from connector.documents import audit_record, document_receive
from connector.flows import ActionRefused, DocumentAction
from connector.locks import exclusive
from connector.models import Document, DocumentState, Trigger
from connector.queue import documents_queue

from . import AR_810

CORRECTED = "corrected_sent"


def can_send_corrected(document: Document) -> bool:
    return (document.flow == AR_810 and document.state == DocumentState.REJECTED
            and not (document.external_ids or {}).get("corrected_by"))


def send_corrected(*, document: Document, user: AbstractBaseUser | None, reason: str) -> str:
    """Make the correction of a rejected 810 and queue it; returns what to tell the human."""
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise ActionRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        if not can_send_corrected(document):
            already = (document.external_ids or {}).get("corrected_by")
            raise ActionRefused(f"{document} was already corrected by document {already}" if already else
                                f"{document} is {document.get_state_display().lower()}: only a rejected 810 "
                                "is sent corrected")
        chain = [*(document.external_ids.get("corrects_chain") or []), document.pk]
        original_key = document.external_key.split(":corrected-")[0]
        with transaction.atomic():
            correction, _ = document_receive(
                tenant=document.tenant, flow=AR_810, external_key=f"{original_key}:corrected-{len(chain)}",
                raw=document.raw, source=document.source, user=user)
            correction.external_ids = {**correction.external_ids, "corrects": document.pk, "corrects_chain": chain}
            correction.step = correction.step or "map"  # a replay (with the user) starts it
            correction.save(update_fields=["external_ids", "step", "updated_at"])
            document.external_ids = {**document.external_ids, "corrected_by": correction.pk}
            document.save(update_fields=["external_ids", "updated_at"])
            audit_record(tenant=document.tenant, document=document, user=user, action=CORRECTED,
                         from_state=document.state, to_state=document.state,
                         reason=f"sent corrected as document {correction.pk}: {reason}")
            audit_record(tenant=document.tenant, document=correction, user=user, action="correction_of",
                         from_state=correction.state, to_state=correction.state,
                         reason=f"corrects rejected document {document.pk} ({document.artifact_name}): {reason}")
    documents_queue([correction.pk], trigger=Trigger.MANUAL, user=user)
    return (f"{document} is corrected by document {correction.pk}: it is queued to go out with new control "
            "numbers and a new file name.")


SEND_CORRECTED = DocumentAction(
    name="send_corrected", label="Send corrected…",
    explanation="The partner rejected this 810. Once the cause is fixed (in Vantagepoint or in the trading "
                "partner's settings), a corrected 810 goes out as a new document, linked to this one, with new "
                "control numbers and a new file name; this one keeps its file and numbers. Say what was fixed.",
    offered=can_send_corrected, run=send_corrected)
