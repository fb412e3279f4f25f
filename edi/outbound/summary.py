"""What an ar-810 document is to the business, read from what it holds: the AR invoice as
received (raw), the client and partner the map step found, the 810 it became, and the 997
that answered it. Registered on the flow as its `summarize` and `related_records` hooks.
"""
from __future__ import annotations

from django.urls import reverse

from connector.flows import RelatedRecord
from connector.models import Document
from connector.summary import DocumentSummary, lines_total, raw_record, words_of

from ..links import inbound_file_at, inbound_file_url

# The 810 we write carries this currency unless the mapping set another (edi.x12.Invoice810).
DEFAULT_CURRENCY = "USD"



def ar_810_summarize(document: Document) -> DocumentSummary:
    invoice = raw_record(document)
    mapped = document.mapped or {}
    client = mapped.get("client") or {}
    partner = mapped.get("partner") or {}
    invoice_810 = mapped.get("invoice") or {}
    amount = lines_total(invoice.get("lines"))
    counterparty = client.get("name") or client.get("code") or invoice.get("billing_client_id") or ""
    project = mapped.get("project") or {}
    return DocumentSummary(
        reference=str(invoice.get("invoice") or invoice_810.get("invoice_number") or ""),
        counterparty=str(counterparty),
        partner=str(partner.get("name") or ""),
        amount=amount,
        currency=str(invoice_810.get("currency") or DEFAULT_CURRENCY),
        search_terms=words_of((client.get("code"), invoice.get("billing_client_id"), invoice.get("project"),
                               project.get("name"))),
    )


def ar_810_related(document: Document) -> list[RelatedRecord]:
    ids = document.external_ids or {}
    records: list[RelatedRecord] = []
    if ids.get("cleo_file_id"):
        records.append(RelatedRecord("810 file in Cleo", f"{ids.get('cleo_folder', '')}/{document.artifact_name} "
                                                        f"(Cleo file {ids['cleo_file_id']})"))
    ack = ids.get("ack") or {}
    if ack.get("source"):
        entry = inbound_file_at(tenant_id=document.tenant_id, path=ack["source"])
        state = str(ack.get("state") or "").replace("_", " ")
        records.append(RelatedRecord(f"997 from the partner ({state})" if state else "997 from the partner",
                                     ack["source"], inbound_file_url(entry) if entry else ""))
    for key, what in (("corrects", "Corrects the rejected 810"), ("corrected_by", "Corrected by")):
        if ids.get(key):
            records.append(RelatedRecord(what, f"document {ids[key]}",
                                         reverse("admin:connector_document_change", args=[ids[key]])))
    if ids.get("isa13"):
        records.append(RelatedRecord("Control numbers", f"ISA13 {ids['isa13']}, GS06 {ids.get('gs06', '')}, "
                                                        f"ST02 {ids.get('st02', '')}"))
    return records
