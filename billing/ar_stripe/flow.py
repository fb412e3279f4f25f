"""The ar-stripe flow: a posted AR invoice becomes a finalized Stripe invoice.

Steps, each resumable on its own (a replay starts at the one that failed):

- customer: read the billing client firm from Vantagepoint; a firm the tenant does not bill
  through Stripe ends the document as ignored, saying why; a firm without a billing email
  waits in needs_mapping; else its Stripe customer, found or created once and updated when
  the firm changed (customers.py). Persists `mapped` (client, currency, terms).
- invoice: the Stripe invoice with the same lines, finalized (or a credit note for a credit
  memo), every create an effect with a look before any re-create (invoices.py); an invoice
  already in Stripe makes the document a duplicate. Persists the Stripe ids; sent.

Its input is the AR invoice stream, read since the flow's own cursor
"ar-stripe:vantagepoint:ar-invoices"; each cycle also aligns the customers of firms whose
name, email or address changed (customers.stripe_customers_align, the flow's poll).
Registered by billing's AppConfig.ready().
"""
from __future__ import annotations

from connector.clients import vantagepoint_client
from connector.failures import ConfigFailure, DataFailure, MappingMissing
from connector.flows import Flow, Step, register
from connector.models import DocumentState
from connector.pipeline import StepContext
from connector.vantagepoint.ar_invoices import AR_INVOICES, ar_invoice_from_json

from ..stripe import stripe_client
from ..stripe.errors import SYSTEM
from . import AR_STRIPE
from .choice import days_until_due, stripe_choice
from .customers import stripe_customer_ensure, stripe_customers_align
from .invoices import stripe_credit_note_send, stripe_invoice_send
from .summary import ar_stripe_links, ar_stripe_related, ar_stripe_summarize


def ar_stripe_customer(ctx: StepContext) -> None:
    document = ctx.document
    invoice = ar_invoice_from_json(document.raw)
    client_id = invoice.billing_client_id
    if not client_id:
        raise DataFailure(f"invoice {invoice.invoice} has no billing client", system="vantagepoint")
    with vantagepoint_client(ctx.tenant) as vp:
        firm = vp.firm(client_id)
    if firm is None:
        raise DataFailure(f"billing client {client_id} of invoice {invoice.invoice} is not in Vantagepoint",
                          system="vantagepoint")
    choice = stripe_choice(tenant=ctx.tenant, client_id=firm.client_id, client_code=firm.client_code)
    document.mapped = {"client": {"client_id": firm.client_id, "code": firm.client_code, "name": firm.name,
                                  "email": firm.email},
                       "currency": choice.currency}
    if not choice.billed:
        ctx.finish(DocumentState.IGNORED, choice.reason)
        return
    if not firm.email:
        raise MappingMissing(f"client {firm.name or firm.client_code} ({firm.client_code or client_id}) has no billing "
                             "email in Vantagepoint: Stripe emails the invoice there. Add one to the firm, then replay",
                             system=SYSTEM)
    terms = days_until_due(tenant=ctx.tenant, firm=firm, invoice_date=invoice.invoice_date, due_date=invoice.due_date)
    with stripe_client(ctx.tenant) as stripe:
        mapping = stripe_customer_ensure(ctx, stripe=stripe, firm=firm)
    document.mapped = {**document.mapped, "days_until_due": terms}
    document.external_ids = {**document.external_ids, "stripe_customer_id": mapping.customer_id,
                             "livemode": mapping.livemode}


def ar_stripe_invoice(ctx: StepContext) -> None:
    document = ctx.document
    invoice = ar_invoice_from_json(document.raw)
    customer_id = document.external_ids.get("stripe_customer_id")
    if not customer_id:
        raise ConfigFailure("no Stripe customer was found for this invoice: replay from the customer step",
                            system=SYSTEM)
    currency = document.mapped["currency"]
    with stripe_client(ctx.tenant) as stripe:
        if invoice.total < 0:
            note = stripe_credit_note_send(ctx, stripe=stripe, invoice=invoice, customer_id=customer_id,
                                           currency=currency)
            document.external_ids = {**document.external_ids, "stripe_credit_note_id": note["id"],
                                     "stripe_credit_note_number": note.get("number") or "",
                                     "stripe_invoice_id": note["original"]}
            return
        sent = stripe_invoice_send(ctx, stripe=stripe, invoice=invoice, customer_id=customer_id, currency=currency,
                                   days_until_due=document.mapped.get("days_until_due", 30))
    if ctx.finished_state:
        document.external_ids = {**document.external_ids, **sent}
        return
    document.external_ids = {**document.external_ids, "stripe_invoice_id": sent["id"],
                             "stripe_invoice_number": sent.get("number") or "",
                             "stripe_invoice_status": sent.get("status") or "",
                             "hosted_invoice_url": sent.get("hosted_invoice_url") or ""}


AR_STRIPE_FLOW = Flow(
    name=AR_STRIPE,
    label="AR invoice to Stripe",
    steps=(
        Step("customer", ar_stripe_customer, DocumentState.MAPPED),
        Step("invoice", ar_stripe_invoice, DocumentState.SENT),
    ),
    stream=AR_INVOICES,
    poll=stripe_customers_align,  # every cycle: firms whose details changed update their customer
    needs=("vantagepointconnection", "stripeconnection"),
    description="Posted Vantagepoint AR invoices of the client firms billed through Stripe, as finalized Stripe "
                "invoices (credit memos as credit notes)",
    document_links=ar_stripe_links,
    summarize=ar_stripe_summarize, related_records=ar_stripe_related,
)


def ar_stripe_register() -> Flow:
    return register(AR_STRIPE_FLOW)
