"""What an ar-stripe document is to the business (invoice number, client, amount, currency)
and the records it is linked to: the Stripe customer, invoice or credit note, each with a
link to Stripe's dashboard (/test/ for test-mode objects)."""
from __future__ import annotations

from django.urls import reverse

from connector.flows import RelatedRecord
from connector.models import Document, DocumentState
from connector.summary import DocumentSummary, lines_total, raw_record, words_of

DASHBOARD = "https://dashboard.stripe.com/"


def dashboard_url(kind: str, object_id: str, *, livemode: bool) -> str:
    """kind: customers, invoices, credit_notes."""
    return f"{DASHBOARD}{'' if livemode else 'test/'}{kind}/{object_id}"



def ar_stripe_summarize(document: Document) -> DocumentSummary:
    invoice = raw_record(document)
    mapped = document.mapped or {}
    client = mapped.get("client") or {}
    ids = document.external_ids or {}
    amount = lines_total(invoice.get("lines"))
    return DocumentSummary(
        reference=str(invoice.get("invoice") or ""),
        counterparty=str(client.get("name") or client.get("code") or invoice.get("billing_client_id") or ""),
        amount=amount,
        currency=str(mapped.get("currency") or "").upper(),
        search_terms=words_of((client.get("code"), invoice.get("billing_client_id"), invoice.get("project"),
                               ids.get("stripe_invoice_number"))),
    )


def ar_stripe_related(document: Document) -> list[RelatedRecord]:
    ids = document.external_ids or {}
    live = bool(ids.get("livemode"))
    records: list[RelatedRecord] = []
    if ids.get("stripe_customer_id"):
        records.append(RelatedRecord("Stripe customer", ids["stripe_customer_id"],
                                     dashboard_url("customers", ids["stripe_customer_id"], livemode=live)))
    if ids.get("stripe_invoice_id"):
        label = " ".join(filter(None, (ids.get("stripe_invoice_number"), f"({ids['stripe_invoice_id']})",
                                       ids.get("stripe_invoice_status"))))
        records.append(RelatedRecord("Stripe invoice", label,
                                     dashboard_url("invoices", ids["stripe_invoice_id"], livemode=live)))
    if ids.get("stripe_credit_note_id"):
        records.append(RelatedRecord("Stripe credit note", f"{ids.get('stripe_credit_note_number', '')} "
                                                           f"({ids['stripe_credit_note_id']})".strip(),
                                     dashboard_url("credit_notes", ids["stripe_credit_note_id"], livemode=live)))
    if ids.get("duplicate_of"):
        records.append(RelatedRecord("Already in Stripe as", ids["duplicate_of"],
                                     dashboard_url("invoices", ids["duplicate_of"], livemode=live)))
    return records


def ar_stripe_links(document: Document) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if document.state in (DocumentState.NEEDS_MAPPING, DocumentState.IGNORED):
        links.append(("Choose the client firms billed through Stripe", reverse("admin:billing_stripebilling_changelist")))
    return links
