"""What an 810-ap document is to the business, read from what it holds: the supplier's
invoice as the 810 said it, the vendor and voucher resolve found, and what Vantagepoint
answered. Registered on the flow as its `summarize` and `related_records` hooks.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.flows import RelatedRecord
from connector.models import Document, Effect, EffectState
from connector.summary import DocumentSummary, summary_amount, words_of

from ..links import inbound_file_url
from ..models import InboundFile

# Who sold: the parties a supplier's 810 names itself by, most specific first.
SELLER_ROLES = ("VN", "SU", "SE", "II", "RI", "RE")


def _seller(invoice: dict[str, Any]) -> dict[str, Any]:
    parties = [p for p in invoice.get("parties") or () if isinstance(p, dict)]
    for role in SELLER_ROLES:
        for party in parties:
            if party.get("role") == role and (party.get("name") or party.get("id")):
                return party
    return {}


def ap_810_summarize(document: Document) -> DocumentSummary:
    mapped = document.mapped or {}
    invoice = mapped.get("invoice") or {}
    voucher = mapped.get("voucher") or {}
    seller = _seller(invoice)
    vendor_code = str(voucher.get("vendor") or "")
    name = str(seller.get("name") or "")
    counterparty = f"{name} ({vendor_code})" if name and vendor_code else name or vendor_code or \
        str(mapped.get("sender") or "")
    amount = summary_amount(voucher.get("total"))
    if amount is None:
        amount = summary_amount(invoice.get("total_computed"))
        if amount is not None and invoice.get("transaction_type") == "CR":
            amount = -amount  # posted negative, as the voucher will be
    posting = mapped.get("posting") or {}
    return DocumentSummary(
        reference=str(invoice.get("invoice_number") or ""),
        counterparty=counterparty,
        partner=str(mapped.get("partner") or ""),
        amount=amount,
        currency=str(invoice.get("currency") or ""),
        search_terms=words_of((invoice.get("po_number"), seller.get("id"), mapped.get("sender"), mapped.get("file"),
                               posting.get("batch"))),
    )


def ap_810_related(document: Document) -> list[RelatedRecord]:
    mapped, ids = document.mapped or {}, document.external_ids or {}
    records: list[RelatedRecord] = []
    entry = None
    if mapped.get("inbound_file_id"):
        entry = (InboundFile.objects.filter(pk=mapped["inbound_file_id"], tenant_id=document.tenant_id)
                 .select_related("document").only("id", "folder", "name", "document__id", "document__artifact_name")
                 .first())
    if entry is not None:
        url = inbound_file_url(entry)
        records.append(RelatedRecord("The file it came in", f"{entry.folder}/{entry.name}", url))
        ack_name = entry.document.artifact_name if entry.document is not None else ""
        if ack_name:  # our 997 is the file's cleo-inbox document's artifact, uploaded as an effect
            uploaded = Effect.objects.filter(document_id=entry.document.pk, name="upload_997",
                                             state=EffectState.CONFIRMED).exists()
            records.append(RelatedRecord(f"Our 997 ({'sent' if uploaded else 'not sent yet'})", ack_name,
                                         f"{url}#our-997"))
    posted = ids.get("vantagepoint") or {}
    if posted:
        records.append(RelatedRecord("AP voucher in Vantagepoint", _voucher_words(posted)))
    duplicate = ids.get("duplicate_of") or {}
    if duplicate:
        records.append(RelatedRecord("Already in Vantagepoint as", _voucher_words(duplicate)))
    return records


def _voucher_words(posted: dict[str, Any]) -> str:
    parts = [f"voucher {posted.get('voucher') or '?'}", f"batch {posted.get('batch', '')}",
             f"period {posted.get('period', '')}"]
    if posted.get("post_seq") is not None:
        parts.append(f"posting {posted['post_seq']}")
    if posted.get("total") not in (None, ""):
        parts.append(f"total {Decimal(str(posted['total'])):,.2f}")
    return ", ".join(parts)
