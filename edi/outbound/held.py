"""Two invoices with one number to one partner: the second is held until a human decides.

A partner files 810s by their BIG02 invoice number; a second 810 with a number it already has
is at best refused, at worst paid twice. Vantagepoint may post the same number twice (a
re-posted invoice, or two projects numbered alike), so the render step, before it hands out
control numbers, looks for another 810 to the same partner with the same number (indexed with
the control numbers, OutboundControl) and, finding one, parks this one in needs_mapping with a
reason naming the first. The human
then sends it anyway (`same_number_release`: audited, then a replay is queued, which passes
the check because of the release event) or ignores it (the engine's Ignore…).
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from connector.documents import audit_record
from connector.failures import MappingMissing
from connector.flows import ActionRefused, DocumentAction
from connector.locks import exclusive
from connector.models import Document, DocumentState
from connector.replay import documents_replay_queue

from ..models import OutboundControl, TradingPartner
from .mapping import SYSTEM

RELEASED = "same_number_released"


class SameNumberHeld(MappingMissing):
    """Held: the partner already has (or is getting) an 810 with this invoice number."""


def same_number_check(document: Document, *, partner: TradingPartner, number: str) -> None:
    """Raise SameNumberHeld when another 810 to this partner already carries `number` (its
    control numbers are indexed with it: OutboundControl), unless a human released this
    document. Called by the render step under the partner's row lock, before numbers are
    handed out, so of two documents rendering at once one is first. Sets `mapped["held"]`
    (the page's action reads it). Does not count: an ignored or duplicate document, and the
    rejected 810s this one corrects."""
    corrects = (document.external_ids or {}).get("corrects_chain") or []
    earlier = (OutboundControl.objects.filter(partner=partner, invoice_number=number)
               .exclude(document_id=document.pk).exclude(document_id__in=corrects)
               .exclude(document__state__in=(DocumentState.IGNORED, DocumentState.DUPLICATE))
               .select_related("document").order_by("allocated_at", "pk").first())
    mapped = dict(document.mapped)
    mapped.pop("held", None)
    document.mapped = mapped
    if earlier is None or document.audit_events.filter(action=RELEASED).exists():
        return
    first = earlier.document
    mapped["held"] = {"same_number_as": first.pk, "key": first.external_key, "invoice": number}
    raise SameNumberHeld(
        f"partner {partner.name} already has invoice number {number} from document {first.pk} "
        f"(invoice {first.external_key}, {first.get_state_display().lower()}): held. Send it anyway if the "
        "partner expects a second invoice with this number, or ignore it", system=SYSTEM)


def is_held(document: Document) -> bool:
    return document.state == DocumentState.NEEDS_MAPPING and bool((document.mapped or {}).get("held"))


def same_number_release(*, document: Document, user: AbstractBaseUser | None, reason: str) -> str:
    """Send a held document anyway: the release is audited (who, why), then a replay is queued;
    the map step lets a released document through."""
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise ActionRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        if not is_held(document):
            raise ActionRefused(f"{document} is {document.get_state_display().lower()}, not held for its number")
        held = document.mapped["held"]
        audit_record(tenant=document.tenant, document=document, user=user, action=RELEASED,
                     from_state=document.state, to_state=document.state,
                     reason=f"send anyway, although document {held['same_number_as']} has invoice number "
                            f"{held['invoice']}: {reason}")
    queued, refused = documents_replay_queue([document], user=user)
    if refused:
        raise ActionRefused(refused[0])
    return f"{document} is released: it will be sent with invoice number {held['invoice']} (a replay is queued)."


SEND_ANYWAY = DocumentAction(
    name="send_anyway", label="Send anyway…",
    explanation="This invoice has the same number (BIG02) as an 810 this partner already has. Sending it anyway "
                "gives the partner a second invoice with that number; the release and your reason are kept in the "
                "audit trail. To drop it instead, use Ignore….",
    offered=is_held, run=same_number_release)
