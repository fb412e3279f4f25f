"""The "stripe-payment" flow: a Stripe event becomes a Vantagepoint cash receipt, once.

    fetch      the event is a trigger only: its object is re-fetched from Stripe, and the
               payments or refunds it stands for are read (payments.py); an object Stripe no
               longer has is a data failure; one that is not an invoice payment is ignored;
    match      the Vantagepoint invoice and project, from the Stripe invoice's metadata or its
               ar-stripe document (matching.py); another tenant's or nobody's is ignored;
    post       one receipt batch per payment or refund (receipts.py), each an effect keyed on
               the payment, looked for in the CR ledger before and after; found already →
               duplicate; a refund waits (retrying) for its payment's receipt; a refund that
               failed after it succeeded is reversed (a positive receipt, RefNo its id + "-rev")
               when its receipt is in Vantagepoint, and posts nothing when it never was;
    ar_status  the invoice's AR balance read back: paid, partly paid.

Documents come from the webhook view (billing/webhooks/); `sweep=True` gives the flow a cycle
that resumes documents a dead worker left waiting.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from django.urls import reverse

from billing.stripe.client import stripe_client
from connector.clients import vantagepoint_client
from connector.failures import DataFailure
from connector.flows import Flow, RelatedRecord, Step, register
from connector.locks import exclusive
from connector.models import Document, DocumentState, Effect, EffectState, Trigger
from connector.pipeline import StepContext
from connector.queue import documents_queue
from connector.summary import DocumentSummary, summary_amount, words_of

from .matching import AR_STRIPE_FLOW, Target, invoice_target
from .payments import PAYMENT, REFUND, REVERSAL, REVERSAL_SUFFIX, Movement, NotOurs, event_fetch, event_read
from .receipts import (
    PaymentReceiptMissing,
    RefundReceiptPending,
    ar_status,
    payment_receipt_required,
    posting_json,
    receipt_batch,
    receipt_batch_name,
    receipt_batch_name_of,
    receipt_found,
    receipt_json,
    receipt_period,
)

STRIPE_PAYMENT = "stripe-payment"
WAITS_FOR = "waits_for"
REFUND_LOCK_RETRY_SECONDS = 5


def _ignore(ctx: StepContext, reason: str) -> None:
    ctx.document.mapped = {**(ctx.document.mapped or {}), "ignored": reason}
    ctx.finish(DocumentState.IGNORED, reason)


# -- steps ----------------------------------------------------------------------------------------
def fetch(ctx: StepContext) -> None:
    document = ctx.document
    event = event_read(document.raw)
    document.mapped = {"event": {"id": event.id, "type": event.type, "object": event.object_id}}
    document.external_ids = {"stripe_event": event.id, "stripe_object": event.object_id}
    with stripe_client(ctx.tenant) as stripe:
        try:
            fetched = event_fetch(stripe, event, zone=ctx.tenant.time_zone)
        except NotOurs as exc:
            _ignore(ctx, str(exc))
            return
    invoice = fetched.invoice
    raw = invoice.raw
    document.mapped.update(
        invoice={"id": invoice.id, "number": invoice.number, "customer": invoice.customer,
                 "customer_name": raw.get("customer_name") or "", "currency": invoice.currency,
                 "total": invoice.total, "amount_paid": invoice.amount_paid,
                 "amount_remaining": invoice.amount_remaining, "status": invoice.status,
                 "livemode": bool(raw.get("livemode")), "metadata": dict(invoice.metadata)},
        movements=[m.as_json() for m in fetched.movements])
    document.external_ids.update(stripe_invoice=invoice.id, stripe_references=[m.reference for m in fetched.movements])


def match(ctx: StepContext) -> None:
    document = ctx.document
    invoice = document.mapped["invoice"]
    try:
        target = invoice_target(ctx.tenant, metadata=invoice.get("metadata") or {},
                                label=invoice.get("number") or invoice["id"])
    except NotOurs as exc:
        _ignore(ctx, str(exc))
        return
    with vantagepoint_client(ctx.tenant) as vp:
        balance = vp.ar_balance(target.invoice, wbs1=target.project)
    if balance is None:
        raise DataFailure(f"invoice {target.invoice} of project {target.project} (from Stripe invoice "
                          f"{invoice.get('number') or invoice['id']}) has no AR balance in Vantagepoint: "
                          "no such invoice on that project", system="vantagepoint")
    document.mapped = {**document.mapped, "target": target.as_json(),
                       "ar_before": _balance_json(balance)}
    document.external_ids = {**document.external_ids, "vp_invoice": target.invoice, "vp_project": target.project}


def post(ctx: StepContext) -> None:
    document = ctx.document
    target = Target.from_json(document.mapped["target"])
    movements = [Movement.from_json(m) for m in document.mapped["movements"]]
    label = document.mapped["invoice"].get("number") or document.mapped["invoice"]["id"]
    outcomes: dict[str, dict[str, Any]] = dict(document.mapped.get("receipts") or {})
    ids = {k: v for k, v in document.external_ids.items() if k != WAITS_FOR}
    with vantagepoint_client(ctx.tenant) as vp:
        for movement in movements:
            if movement.kind == REFUND:
                try:
                    payment_receipt_required(vp, movement, target)
                except PaymentReceiptMissing:
                    document.external_ids = {**ids, WAITS_FOR: movement.payment}
                    raise
                with _refund_lock(ctx, movement.reference):
                    outcomes[movement.reference] = _receipt_post(
                        ctx, vp, movement, target, label,
                        unless=lambda refund=movement: _refund_failed_at_stripe(ctx, refund))
            elif movement.kind == REVERSAL:
                with _refund_lock(ctx, movement.reverses):
                    outcomes[movement.reference] = (_nothing_to_reverse(ctx, vp, movement, target)
                                                    or _receipt_post(ctx, vp, movement, target, label))
            else:
                outcomes[movement.reference] = _receipt_post(ctx, vp, movement, target, label)
    document.external_ids = {**ids, "receipt_batches": sorted({o["batch"] for o in outcomes.values() if o.get("batch")})}
    document.mapped = {**document.mapped, "receipts": outcomes}
    document.artifact = receipts_text(document)
    paid = [m.reference for m in movements if m.kind == PAYMENT]
    if paid:
        _wake_refunds(ctx, paid)
    if not any(o.get("batch") for o in outcomes.values()):
        _ignore(ctx, "; ".join(o["reason"] for o in outcomes.values()))
    elif not any(o["outcome"] == "posted" for o in outcomes.values()):
        ctx.finish(DocumentState.DUPLICATE, "already in Vantagepoint, nothing posted: " + "; ".join(
            f"{ref} in batch {o['batch']}" for ref, o in outcomes.items() if o.get("batch")))


def _receipt_post(ctx: StepContext, vp, movement: Movement, target: Target, label: str, *,
                  unless: Callable[[], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """One receipt batch for one movement, an effect: the CR ledger looked at first (found:
    duplicate), posted once, found again after a crash by its batch name or RefNo. `unless`,
    asked only before a first post (the effect intended, the receipt not found), may stop it
    with the outcome it returns; once a post may have happened, the effect's look decides."""
    effect_name = f"receipt:{movement.reference}"[:60]
    on = date.fromisoformat(movement.on)
    declared = ctx.effect_declare(effect_name, key=receipt_batch_name(movement),
                                  intent={"period": receipt_period(on), "trans_date": movement.on})
    if declared.state == EffectState.INTENDED:
        found = receipt_found(vp, movement, target)
        if found is not None:  # in Vantagepoint already (by hand, or another event's document)
            return {"outcome": "duplicate", **receipt_json(found)}
        stopped = unless() if unless is not None else None
        if stopped is not None:
            return stopped
    batch = receipt_batch(movement, target, name=declared.key, period=declared.intent["period"],
                          trans_date=date.fromisoformat(declared.intent["trans_date"]), invoice_label=label)

    def do(key: str) -> dict[str, Any]:
        return posting_json(vp.post_cash_receipt_batch(batch))

    def look() -> dict[str, Any] | None:
        posted = vp.cash_receipt_batch_posted(declared.key)
        if posted is not None:
            return {**posting_json(posted), "looked": True}
        found = receipt_found(vp, movement, target)
        return {**receipt_json(found), "looked": True} if found is not None else None

    result = ctx.effect(effect_name, do=do, look=look)
    ours = not result.get("already_posted") or result.get("looked")
    return {"outcome": "posted" if ours else "duplicate", "amount": str(movement.amount), **result}


@contextmanager
def _refund_lock(ctx: StepContext, refund_id: str):
    """A refund's receipt and its reversal are decided one at a time (see receipts.py)."""
    key = f"stripe-refund:{ctx.tenant.pk}:{refund_id}"
    with exclusive(key) as held:
        if not held:
            raise RefundReceiptPending(f"another worker holds refund {refund_id}'s lock: tried again shortly",
                                       system="stripe", retry_in=REFUND_LOCK_RETRY_SECONDS)
        yield


def _refund_failed_at_stripe(ctx: StepContext, refund: Movement) -> dict[str, Any] | None:
    """A refund whose receipt is not in Vantagepoint yet is asked for at Stripe again (the event
    may be old): one that failed meanwhile posts nothing, and its reversal has nothing to reverse."""
    with stripe_client(ctx.tenant) as stripe:
        now = stripe.retrieve_refund(refund.reference)
    if now.status != "failed":
        return None
    reason = now.raw.get("failure_reason") or "no reason given"
    return {"outcome": "not_posted", "amount": str(refund.amount),
            "reason": f"refund {refund.reference} failed at Stripe ({reason}) before its receipt was posted: "
                      "nothing posted"}


def _nothing_to_reverse(ctx: StepContext, vp, reversal: Movement, target: Target) -> dict[str, Any] | None:
    """None when the failed refund's receipt is in Vantagepoint (the reversal posts); the
    outcome saying so when it never was; RefundReceiptPending while a document of this tenant
    is still on its way to posting it."""
    if vp.cash_receipt(reversal.reverses, invoice=target.invoice) is not None:
        return None
    in_flight = Effect.objects.filter(
        document__tenant_id=ctx.document.tenant_id, document__flow=STRIPE_PAYMENT,
        document__state__in=(DocumentState.RECEIVED, DocumentState.MAPPED, DocumentState.RETRYING),
        key=receipt_batch_name_of(reversal.reverses), state__in=(EffectState.INTENDED, EffectState.UNKNOWN)
    ).exclude(document_id=ctx.document.pk)
    if in_flight.exists():
        raise RefundReceiptPending(f"refund {reversal.reverses} failed; whether its receipt went in is not known "
                                   "yet (another document is posting it): its reversal waits", system="vantagepoint")
    return {"outcome": "nothing_to_reverse", "amount": str(reversal.amount),
            "reason": f"refund {reversal.reverses} failed before its receipt was posted: nothing to reverse"}


def _wake_refunds(ctx: StepContext, payments: list[str]) -> None:
    """Refunds of this tenant waiting for these payments' receipts try again now (one that gave
    up waiting too: Stripe may deliver the payment's event up to three days late)."""
    waiting = list(Document.objects.filter(
        tenant_id=ctx.document.tenant_id, flow=STRIPE_PAYMENT, state__in=(DocumentState.RETRYING, DocumentState.FAILED),
        **{f"external_ids__{WAITS_FOR}__in": payments}).values_list("pk", flat=True))
    if waiting:
        documents_queue(waiting, trigger=Trigger.RETRY)


def ar_status_read(ctx: StepContext) -> None:
    document = ctx.document
    target = Target.from_json(document.mapped["target"])
    with vantagepoint_client(ctx.tenant) as vp:
        balance = vp.ar_balance(target.invoice, wbs1=target.project)
    if balance is None:
        raise DataFailure(f"invoice {target.invoice} of project {target.project} has no AR balance in Vantagepoint "
                          "after the receipt", system="vantagepoint")
    status = ar_status(balance)
    document.mapped = {**document.mapped, "ar_after": {**_balance_json(balance), "status": status}}
    document.external_ids = {**document.external_ids, "ar_status": status, "ar_balance": f"{balance.balance:.2f}"}
    document.artifact = receipts_text(document)


def _balance_json(balance) -> dict[str, str]:
    return {"original": f"{balance.original_amount:.2f}", "paid": f"{balance.paid_amount:.2f}",
            "balance": f"{balance.balance:.2f}"}


# -- what the pages show ----------------------------------------------------------------------------
def receipts_text(document: Document) -> str:
    mapped = document.mapped or {}
    target = mapped.get("target") or {}
    lines = []
    for ref, outcome in (mapped.get("receipts") or {}).items():
        if not outcome.get("batch"):  # a failed refund: nothing posted, nothing to reverse
            lines.append(f"Cash receipt {ref}: none posted, {outcome.get('reason', '')}")
            continue
        verb = "posted" if outcome.get("outcome") == "posted" else "already in Vantagepoint"
        amount = outcome.get("amount", "")
        if ref.endswith(REVERSAL_SUFFIX):
            verb = f"reverses the receipt of failed refund {ref.removesuffix(REVERSAL_SUFFIX)}, {verb}"
        lines.append(f"Cash receipt {ref} {amount} on invoice {target.get('invoice')} (project "
                     f"{target.get('project')}): {verb}, batch {outcome.get('batch')}, period {outcome.get('period')}")
    after = mapped.get("ar_after")
    if after:
        lines.append(f"AR balance of invoice {target.get('invoice')} now {after['balance']} of {after['original']}: "
                     f"{after['status']}")
    return "\n".join(lines)


def summarize(document: Document) -> DocumentSummary:
    mapped = document.mapped or {}
    invoice = mapped.get("invoice") or {}
    target = mapped.get("target") or {}
    movements = [Movement.from_json(m) for m in mapped.get("movements") or []]
    amount = sum((m.amount for m in movements), Decimal("0")) if movements else None
    if not mapped:
        try:
            event = event_read(document.raw)
        except DataFailure:
            return DocumentSummary(partner="Stripe")
        return DocumentSummary(partner="Stripe", search_terms=words_of([event.object_id, event.type]))
    return DocumentSummary(
        reference=target.get("invoice") or invoice.get("number") or "",
        counterparty=invoice.get("customer_name") or target.get("client_id") or "",
        partner="Stripe", amount=summary_amount(amount), currency=(invoice.get("currency") or "").upper(),
        search_terms=words_of([invoice.get("id"), invoice.get("number"), target.get("project"),
                               *(m.reference for m in movements), (mapped.get("event") or {}).get("type")]))


def related_records(document: Document) -> list[RelatedRecord]:
    mapped = document.mapped or {}
    invoice = mapped.get("invoice") or {}
    records = []
    if invoice.get("id"):
        mode = "" if invoice.get("livemode") else "test/"
        records.append(RelatedRecord("Stripe invoice", f"{invoice.get('number') or invoice['id']} ({invoice['id']})",
                                     f"https://dashboard.stripe.com/{mode}invoices/{invoice['id']}"))
    for ref, outcome in (mapped.get("receipts") or {}).items():
        if not outcome.get("batch"):
            continue
        records.append(RelatedRecord("Vantagepoint cash receipt reversing a failed refund"
                                     if ref.endswith(REVERSAL_SUFFIX) else "Vantagepoint cash receipt",
                                     f"batch {outcome.get('batch')}, RefNo {ref}, period {outcome.get('period')}"))
    ar_document = (mapped.get("target") or {}).get("ar_document")
    if ar_document and Document.objects.filter(pk=ar_document, tenant_id=document.tenant_id,
                                               flow=AR_STRIPE_FLOW).exists():
        records.append(RelatedRecord("AR invoice sent to Stripe", f"document {ar_document}",
                                     reverse("admin:connector_document_change", args=[ar_document])))
    return records


def show_artifact(document: Document) -> str:
    return document.artifact or json.dumps((document.mapped or {}).get("receipts") or {}, indent=1)


STRIPE_PAYMENT_FLOW = register(Flow(
    name=STRIPE_PAYMENT, label="Stripe payment to cash receipt",
    steps=(Step("fetch", fetch, DocumentState.RECEIVED), Step("match", match, DocumentState.MAPPED),
           Step("post", post, DocumentState.POSTED), Step("ar_status", ar_status_read, DocumentState.POSTED)),
    sweep=True, needs=("vantagepointconnection", "stripeconnection"),
    description="Stripe webhook events (invoice paid, charge succeeded or refunded, refunds) re-fetched from Stripe "
                "and posted as Vantagepoint cash receipts on the invoice's project, once per payment or refund.",
    show_artifact=show_artifact, summarize=summarize, related_records=related_records,
))
