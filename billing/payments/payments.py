"""The fetch step's business: an event's object re-fetched from Stripe, and the money it says moved.

The event body is never trusted for amounts or state (it may be old, or rendered at another
API version): its type and object id say what to ask Stripe for, and Stripe's answer now is
what counts. What moved is a list of `Movement`s, each a payment (money received against the
invoice, keyed by its payment intent, or its charge when it has none) or a refund (money
given back, keyed by the refund, naming the payment it undoes) or a reversal (a refund that
failed after it succeeded: the money is back, keyed by the refund id plus REVERSAL_SUFFIX,
naming the refund it reverses). Several events about one payment (invoice.paid,
charge.succeeded) name the same movement, so they make one receipt.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from billing.stripe import (
    StripeBillingClient,
    StripeCharge,
    StripeInvoice,
    StripeNotFound,
    StripeRefund,
    major_units,
)
from connector.failures import DataFailure

SYSTEM = "stripe"
BASIL = "2025-03-31.basil"  # since this API version, invoice payments link an invoice to what paid it
REFUNDS = "/v1/refunds"

INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
CHARGE_EVENTS = ("charge.succeeded", "charge.refunded")
# A refund that fails after it succeeded (the card was closed meanwhile) is told by
# refund.updated / refund.failed and, on older endpoints, charge.refund.updated.
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
EVENT_TYPES = (*INVOICE_EVENTS, *CHARGE_EVENTS, *REFUND_EVENTS)

PAYMENT = "payment"
REFUND = "refund"
REVERSAL = "reversal"  # a refund that failed after it succeeded: the money came back
REVERSAL_SUFFIX = "-rev"


def reversal_reference(refund_id: str) -> str:
    """The RefNo of the receipt that reverses a failed refund's: the refund id plus a suffix."""
    return f"{refund_id}{REVERSAL_SUFFIX}"


class NotOurs(Exception):
    """The object is real but nothing this flow posts (no invoice behind a charge, a pending
    refund, an event type we do not act on): the document is ignored with this reason."""


@dataclass(frozen=True)
class StripeEventRef:
    id: str
    type: str
    object_id: str
    object_kind: str


def event_read(raw: str) -> StripeEventRef:
    """The event's id, type and object from the document's raw JSON; a data failure naming
    what is missing otherwise."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DataFailure(f"the event is not JSON: {exc}", system=SYSTEM) from None
    obj = (data.get("data") or {}).get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise DataFailure("the event has no data.object.id: nothing to re-fetch", system=SYSTEM)
    return StripeEventRef(id=str(data.get("id") or ""), type=str(data.get("type") or ""), object_id=obj["id"],
                          object_kind=str(obj.get("object") or ""))


@dataclass(frozen=True)
class Movement:
    """Money that moved: a payment (positive), a refund (negative) or the reversal of a
    failed refund (positive), in the smallest unit."""

    kind: str  # PAYMENT, REFUND or REVERSAL
    reference: str  # pi_… / ch_… for a payment, re_… for a refund, re_…-rev for a reversal: the RefNo
    amount_minor: int  # signed: a refund is negative
    currency: str
    on: str  # ISO date of the movement, in the tenant's time zone
    payment: str = ""  # a refund or reversal: the payment the refund gave money back from
    charge: str = ""
    reverses: str = ""  # a reversal: the refund (re_…) whose receipt it reverses

    @property
    def amount(self):
        return major_units(self.amount_minor, self.currency)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Movement:
        return cls(**{k: data.get(k, "") for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Fetched:
    invoice: StripeInvoice
    movements: tuple[Movement, ...]


def _day(timestamp: int | None, zone: str) -> str:
    moment = datetime.fromtimestamp(timestamp or 0, UTC) if timestamp else datetime.now(UTC)
    return moment.astimezone(ZoneInfo(zone or "UTC")).date().isoformat()


def _missing(kind: str, object_id: str, event: StripeEventRef, exc: StripeNotFound) -> DataFailure:
    return DataFailure(f"{kind} {object_id} of event {event.type} {event.id} is not in Stripe (deleted, or never "
                       f"in this account): nothing to post ({exc.message})", system=SYSTEM)


def event_fetch(stripe: StripeBillingClient, event: StripeEventRef, *, zone: str) -> Fetched:
    """What the event is about, as Stripe holds it now. NotOurs for an object this flow does
    not post; a data failure for one Stripe no longer has."""
    if event.type not in EVENT_TYPES:
        raise NotOurs(f"event type {event.type} is not one this flow posts ({', '.join(EVENT_TYPES)})")
    if event.type in INVOICE_EVENTS:
        invoice = _invoice(stripe, event.object_id, event)
        movements = invoice_payments(stripe, invoice, zone=zone)
        if not movements:
            raise NotOurs(f"invoice {invoice.number or invoice.id} has no payment received through Stripe "
                          f"(status {invoice.status}, {invoice.amount_paid} paid): a payment made out of band is "
                          "entered in Vantagepoint by hand")
        return Fetched(invoice, movements)
    if event.type in CHARGE_EVENTS:
        try:
            charge = stripe.retrieve_charge(event.object_id)
        except StripeNotFound as exc:
            raise _missing("charge", event.object_id, event, exc) from None
        invoice = _invoice(stripe, _invoice_of(stripe, charge.payment_intent, charge.raw, what=f"charge {charge.id}"),
                           event)
        if event.type == "charge.succeeded":
            if charge.status != "succeeded":
                raise NotOurs(f"charge {charge.id} is {charge.status or 'not succeeded'}: no money was received")
            return Fetched(invoice, (_charge_payment(stripe, charge, invoice, zone=zone),))
        refunds = [_refund_movement(r, charge, zone=zone) for r in _charge_refunds(stripe, charge.id)
                   if r.get("status") == "succeeded"]
        if not refunds:
            raise NotOurs(f"charge {charge.id} has no succeeded refund (yet): a pending one posts when it succeeds")
        return Fetched(invoice, tuple(refunds))
    try:
        refund = stripe.retrieve_refund(event.object_id)
    except StripeNotFound as exc:
        raise _missing("refund", event.object_id, event, exc) from None
    if refund.status not in ("succeeded", "failed"):
        raise NotOurs(f"refund {refund.id} is {refund.status}: only a succeeded refund is posted (its "
                      "refund.updated event posts it once it succeeds)")
    if not refund.charge:
        raise NotOurs(f"refund {refund.id} names no charge")
    try:
        charge = stripe.retrieve_charge(refund.charge)
    except StripeNotFound as exc:
        raise _missing("charge", refund.charge, event, exc) from None
    invoice = _invoice(stripe, _invoice_of(stripe, charge.payment_intent, charge.raw, what=f"refund {refund.id}"),
                       event)
    if refund.status == "failed":  # whether its receipt was posted is the post step's to find out
        return Fetched(invoice, (_reversal_movement(refund, charge, zone=zone),))
    return Fetched(invoice, (_refund_movement(refund.raw, charge, zone=zone),))


def _invoice(stripe: StripeBillingClient, invoice_id: str, event: StripeEventRef) -> StripeInvoice:
    """With its invoice payments since 2025-03-31.basil; before, the invoice names its payment
    itself and `payments` cannot be expanded."""
    try:
        return stripe.retrieve_invoice(invoice_id, with_payments=stripe.api_version >= BASIL)
    except StripeNotFound as exc:
        raise _missing("invoice", invoice_id, event, exc) from None


def _invoice_of(stripe: StripeBillingClient, payment_intent: str | None, charge_raw: Any, *, what: str) -> str:
    """The invoice a payment paid: the charge names it before 2025-03-31.basil; since, the
    invoice payments link them."""
    named = charge_raw.get("invoice") if hasattr(charge_raw, "get") else None
    if isinstance(named, dict):
        named = named.get("id")
    if named:
        return named
    if payment_intent:
        for payment in stripe.list_invoice_payments(payment_intent_id=payment_intent):
            return payment.invoice
    raise NotOurs(f"{what} paid no Stripe invoice (no invoice payment names payment {payment_intent or '-'}): "
                  "not a payment of an invoice we sent")


def invoice_payments(stripe: StripeBillingClient, invoice: StripeInvoice, *, zone: str) -> tuple[Movement, ...]:
    """Every paid payment of the invoice (a partial one too), each for what it paid."""
    found = []
    for payment in invoice.payments or ():
        if payment.status != "paid" or not (payment.payment_intent or payment.charge):
            continue
        paid_at = (payment.raw.get("status_transitions") or {}).get("paid_at") or payment.raw.get("created")
        found.append(Movement(kind=PAYMENT, reference=payment.payment_intent or payment.charge or "",
                              amount_minor=int(payment.amount_paid or 0), currency=payment.currency,
                              on=_day(paid_at, zone), payment=payment.payment_intent or payment.charge or "",
                              charge=payment.charge or ""))
    if invoice.payments is None and invoice.amount_paid and (invoice.raw.get("payment_intent")
                                                             or invoice.raw.get("charge")):
        # Before basil the invoice names one payment (its first) and no amounts per payment:
        # the charges' own events post each payment; this one posts that first payment.
        intent = _id_of(invoice.raw.get("payment_intent")) or _id_of(invoice.raw.get("charge")) or ""
        charge = stripe.retrieve_charge(_id_of(invoice.raw.get("charge"))) if invoice.raw.get("charge") else None
        paid_at = (invoice.raw.get("status_transitions") or {}).get("paid_at")
        found.append(Movement(kind=PAYMENT, reference=intent,
                              amount_minor=charge.amount if charge else invoice.amount_paid,
                              currency=invoice.currency, on=_day(charge.raw.get("created") if charge else paid_at, zone),
                              payment=intent, charge=charge.id if charge else ""))
    return tuple(found)


def _id_of(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _charge_payment(stripe: StripeBillingClient, charge: StripeCharge, invoice: StripeInvoice, *,
                    zone: str) -> Movement:
    reference = charge.payment_intent or charge.id
    for payment in invoice.payments or ():
        if reference in (payment.payment_intent, payment.charge) and payment.status == "paid":
            return Movement(kind=PAYMENT, reference=reference, amount_minor=int(payment.amount_paid or 0),
                            currency=payment.currency, on=_day(charge.raw.get("created"), zone), payment=reference,
                            charge=charge.id)
    return Movement(kind=PAYMENT, reference=reference, amount_minor=charge.amount, currency=charge.currency,
                    on=_day(charge.raw.get("created"), zone), payment=reference, charge=charge.id)


def _charge_refunds(stripe: StripeBillingClient, charge_id: str) -> list[dict[str, Any]]:
    page = stripe.call("GET", REFUNDS, {"charge": charge_id, "limit": 100})
    return list(page.get("data") or [])


def _refund_movement(refund: Any, charge: StripeCharge, *, zone: str) -> Movement:
    return Movement(kind=REFUND, reference=refund["id"], amount_minor=-int(refund["amount"]),
                    currency=refund["currency"], on=_day(refund.get("created"), zone),
                    payment=charge.payment_intent or charge.id, charge=charge.id)


def _reversal_movement(refund: StripeRefund, charge: StripeCharge, *, zone: str) -> Movement:
    """The money of a failed refund back with us: its amount, positive, dated the day we learn it
    (Stripe's refund says no time of failure)."""
    return Movement(kind=REVERSAL, reference=reversal_reference(refund.id), amount_minor=int(refund.amount),
                    currency=refund.currency, on=_day(None, zone), payment=charge.payment_intent or charge.id,
                    charge=charge.id, reverses=refund.id)


def movement_day(movement: Movement) -> date:
    return date.fromisoformat(movement.on)
