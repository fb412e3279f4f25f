"""A posted AR invoice as a Stripe invoice: its lines in the smallest currency unit, computed
exactly from Vantagepoint's decimals, and the creates that make it, each an effect.

- lines: a line goes as quantity × unit amount when both are exact in the currency's smallest
  unit and multiply to the line's amount, else as its amount; an amount that is not a whole
  number of cents (or yen) is a data failure naming the line, never a rounding.
- the invoice: looked for first through search (an invoice already in Stripe for this
  tenant, invoice number, period and posting is another document's or another
  installation's: this one is a duplicate); then created, its items added and finalized,
  each an effect whose Idempotency-Key is derived from (tenant, invoice, step, effect) and
  whose look asks Stripe (the customer's invoices, the invoice's lines, its status) before
  anything is made again after an unknown outcome.
- a credit memo (negative total) becomes a credit note against the original invoice, the
  Stripe invoice of the same invoice number; without one it waits in needs_mapping.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.failures import DataFailure, MappingMissing
from connector.models import Document, DocumentState, EffectState
from connector.pipeline import StepContext
from connector.vantagepoint.records import ARInvoice, ARInvoiceLine

from ..stripe import InvoiceLine, StripeBillingClient, StripeInvoice, minor_unit_exponent, minor_units
from ..stripe.errors import SYSTEM
from . import AR_STRIPE
from .effects import stripe_effect


def stripe_line(invoice: ARInvoice, line: ARInvoiceLine, currency: str) -> InvoiceLine:
    what = f"invoice {invoice.invoice} line {line.seq} ({line.description or 'no description'})"
    amount = minor_units(line.amount, currency, what=what)
    metadata = {"vp_line": str(line.seq)}
    description = line.description or f"Line {line.seq}"
    quantity = line.quantity
    if quantity > 0 and quantity == quantity.to_integral_value() and line.unit_price >= 0:
        unit = line.unit_price.scaleb(minor_unit_exponent(currency))
        if unit == unit.to_integral_value() and unit * quantity == amount:
            return InvoiceLine(description=description, quantity=quantity, unit_amount_decimal=Decimal(int(unit)),
                               metadata=metadata)
    return InvoiceLine(description=description, amount=amount, metadata=metadata)


def stripe_lines(invoice: ARInvoice, currency: str) -> list[InvoiceLine]:
    if not invoice.lines:
        raise DataFailure(f"invoice {invoice.invoice} has no lines", system=SYSTEM)
    return [stripe_line(invoice, line, currency) for line in invoice.lines]


def invoice_metadata(document: Document, invoice: ARInvoice) -> dict[str, str]:
    first = invoice.lines[0] if invoice.lines else None
    values = {
        "ml_tenant": document.tenant.slug, "ml_document": str(document.pk), "vp_invoice": invoice.invoice,
        "vp_period": str(invoice.period), "vp_post_seq": str(invoice.post_seq), "vp_project": invoice.project,
        "vp_wbs2": first.wbs2.strip() if first else "", "vp_wbs3": first.wbs3.strip() if first else "",
        "vp_client_id": invoice.billing_client_id,
    }
    # Stripe drops a metadata key set to "": a blank WBS level is simply absent.
    return {k: v for k, v in values.items() if v}


def _key(ctx: StepContext, invoice: ARInvoice, name: str) -> str:
    return f"mlc-{ctx.tenant.slug}-{invoice.key}-{ctx.document.pk}-{ctx.step}-{name}"[:255]


def invoice_already_in_stripe(stripe: StripeBillingClient, document: Document,
                              invoice: ARInvoice) -> StripeInvoice | None:
    """An invoice of this tenant's invoice, period and posting that another document made."""
    found = stripe.search_invoices(metadata={"ml_tenant": document.tenant.slug, "vp_invoice": invoice.invoice,
                                             "vp_period": str(invoice.period), "vp_post_seq": str(invoice.post_seq)})
    return next((i for i in found if i.metadata.get("ml_document") != str(document.pk) and i.status != "void"), None)


def stripe_invoice_send(ctx: StepContext, *, stripe: StripeBillingClient, invoice: ARInvoice, customer_id: str,
                        currency: str, days_until_due: int) -> dict[str, Any]:
    """Create, fill and finalize the Stripe invoice (or say it is a duplicate); returns the ids."""
    document = ctx.document
    lines = stripe_lines(invoice, currency)
    expected = minor_units(invoice.total, currency, what=f"invoice {invoice.invoice} total")
    metadata = invoice_metadata(document, invoice)
    declared = ctx.effect_declare("create_invoice", key=_key(ctx, invoice, "create_invoice"))
    if declared.state == EffectState.INTENDED and declared.calls == 0:
        duplicate = invoice_already_in_stripe(stripe, document, invoice)
        if duplicate is not None:
            ctx.finish(DocumentState.DUPLICATE, f"invoice {invoice.invoice} (period {invoice.period}, posting "
                                                f"{invoice.post_seq}) is already in Stripe as {duplicate.id} "
                                                f"{duplicate.number}".strip())
            return {"duplicate_of": duplicate.id, "duplicate_number": duplicate.number}
    mine = {"ml_tenant": document.tenant.slug, "ml_document": str(document.pk)}
    created = stripe_effect(
        ctx, "create_invoice", key=declared.key,
        do=lambda key: _ids(stripe.create_invoice(customer_id=customer_id, currency=currency, idempotency_key=key,
                                                  days_until_due=days_until_due, metadata=metadata,
                                                  description=f"Invoice {invoice.invoice}")),
        look=lambda: _maybe_ids(stripe.find_invoice(customer_id=customer_id, metadata=mine)))
    invoice_id = created["id"]
    present: dict[str, str] | None = None

    def line_present(seq: str) -> dict[str, str] | None:
        nonlocal present
        if present is None:  # one listing answers the look of every line
            present = {line.raw.get("metadata", {}).get("vp_line", ""): line.id
                       for line in stripe.list_invoice_lines(invoice_id)}
        return {"id": present[seq]} if seq in present else None

    for line in lines:
        seq = line.metadata["vp_line"]
        stripe_effect(ctx, f"item_{seq}", key=_key(ctx, invoice, f"item_{seq}"),
                   do=lambda key, line=line: {"id": stripe.add_invoice_item(
                       invoice_id=invoice_id, customer_id=customer_id, line=line, idempotency_key=key).id},
                   look=lambda seq=seq: line_present(seq))
    finalized = stripe_effect(
        ctx, "finalize", key=_key(ctx, invoice, "finalize"),
        do=lambda key: _ids(stripe.finalize_invoice(invoice_id, idempotency_key=key)),
        look=lambda: _finalized(stripe.retrieve_invoice(invoice_id, with_payments=False)))
    if finalized.get("total") is not None and finalized["total"] != expected:
        raise DataFailure(f"Stripe invoice {invoice_id} totals {finalized['total']} in the smallest unit of "
                          f"{currency.upper()}, Vantagepoint's {invoice.invoice} {expected}: look at its lines",
                          system=SYSTEM)
    return {**finalized, "id": invoice_id}


def stripe_credit_note_send(ctx: StepContext, *, stripe: StripeBillingClient, invoice: ARInvoice, customer_id: str,
                            currency: str) -> dict[str, Any]:
    """A credit memo as a credit note against the original invoice's Stripe invoice."""
    document = ctx.document
    amount = minor_units(-invoice.total, currency, what=f"credit memo {invoice.invoice} total")
    original = _original_invoice(stripe, document, invoice, customer_id)
    if original is None:
        raise MappingMissing(f"credit memo {invoice.invoice} ({invoice.total} {currency.upper()}): the original "
                             f"invoice {invoice.invoice} is not in Stripe (not sent through this flow yet, or billed "
                             "elsewhere): send it, then replay", system=SYSTEM)
    metadata = {**invoice_metadata(document, invoice), "vp_credit_memo": "true"}
    mine = str(document.pk)
    note = stripe_effect(
        ctx, "create_credit_note", key=_key(ctx, invoice, "create_credit_note"),
        do=lambda key: _note_ids(stripe.create_credit_note(invoice_id=original, amount=amount, idempotency_key=key,
                                                           memo=f"Credit memo {invoice.invoice}", metadata=metadata)),
        look=lambda: next((_note_ids(n) for n in stripe.list_credit_notes(invoice_id=original)
                           if n.metadata.get("ml_document") == mine), None))
    return {**note, "original": original}


def _original_invoice(stripe: StripeBillingClient, document: Document, invoice: ARInvoice,
                      customer_id: str) -> str | None:
    sent = (Document.objects.filter(tenant=document.tenant, flow=AR_STRIPE, reference=invoice.invoice,
                                    state=DocumentState.SENT).exclude(pk=document.pk)
            .values_list("external_ids", flat=True))
    for ids in sent:
        if ids.get("stripe_invoice_id") and not ids.get("stripe_credit_note_id"):
            return ids["stripe_invoice_id"]
    found = stripe.find_invoice(customer_id=customer_id, metadata={"ml_tenant": document.tenant.slug,
                                                                   "vp_invoice": invoice.invoice})
    return found.id if found is not None and found.status not in ("draft", "void") else None


def _ids(found: StripeInvoice) -> dict[str, Any]:
    return {"id": found.id, "number": found.number, "status": found.status, "total": found.total,
            "hosted_invoice_url": found.hosted_invoice_url}


def _maybe_ids(found: StripeInvoice | None) -> dict[str, Any] | None:
    return _ids(found) if found is not None else None


def _finalized(found: StripeInvoice) -> dict[str, Any] | None:
    return _ids(found) if found.status != "draft" else None


def _note_ids(note: Any) -> dict[str, Any]:
    return {"id": note.id, "number": note.number, "amount": note.amount, "status": note.status}


