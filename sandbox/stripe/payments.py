"""Payments as an invoice sees them since 2025-03-31.basil: payment intents, charges, refunds,
and the invoice payments that link an invoice to what paid it.

A payment (by `/v1/invoices/{id}/pay` or the simulator's test helper) makes a succeeded
payment intent, its charge and an invoice payment, and moves the invoice's `amount_paid`;
a partial payment leaves the invoice open. Test payment methods: `pm_card_visa` succeeds,
`pm_card_chargeDeclined` and `pm_card_chargeDeclinedInsufficientFunds` are declined (402,
a failed charge, `charge.failed` and `invoice.payment_failed`). A refund never changes
the invoice (it stays paid), as at Stripe.

A refund can fail after it succeeded (the card was closed meanwhile): `fail_refund` turns a
succeeded refund failed (`failure_reason`, a `failure_balance_transaction` giving the money
back to the charge) and sends `refund.updated`, `refund.failed` and `charge.refund.updated`.
As in Stripe's test mode, a refund of a charge paid with `pm_card_refundFail` succeeds, then
fails by itself (REFUND_FAILS_AFTER seconds later, when the clock moves).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import Call, changes, emit
from .customers import merge_metadata
from .forms import EXPAND, PAGE, Bool, Enum, Int, Metadata, Obj, Str
from .invoices import mark_paid
from .state import MINIMUM_CHARGE, display_amount, list_object, page, require
from .versions import BASIL
from .web import Router, StripeError

if TYPE_CHECKING:
    from .app import StripeSimulator

DECLINES = {"pm_card_chargeDeclined": "generic_decline", "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds"}
SUCCEEDING = ("pm_card_visa", "pm_card_mastercard", "pm_card_refundFail")
REFUND_FAILS_WITH = "pm_card_refundFail"  # Stripe's test card whose refunds fail asynchronously
REFUND_FAILS_AFTER = 60
# What Stripe's test mode gives a refund that fails (the first of REFUND_FAILURE_REASONS).
REFUND_FAILURE_DEFAULT = "expired_or_canceled_card"
REFUND_FAILURE_REASONS = ("expired_or_canceled_card", "lost_or_stolen_card", "declined", "insufficient_funds",
                          "merchant_request", "unknown")
REFUND = {"charge": Str(), "payment_intent": Str(), "amount": Int(minimum=1), "metadata": Metadata(),
          "reason": Enum("duplicate", "fraudulent", "requested_by_customer"), **EXPAND}


def register(router: Router) -> None:
    router.add("POST", "/v1/invoices/{invoice_id}/pay", pay_invoice,
               {"paid_out_of_band": Bool(), "payment_method": Str(), **EXPAND})
    router.add("GET", "/v1/payment_intents/{object_id}", retrieve("payment_intent"), EXPAND)
    router.add("GET", "/v1/payment_intents", list_of("payment_intent", "customer"), {**PAGE, "customer": Str()})
    router.add("GET", "/v1/charges/{object_id}", retrieve("charge"), EXPAND)
    router.add("GET", "/v1/charges", list_of("charge", "customer", "payment_intent"),
               {**PAGE, "customer": Str(), "payment_intent": Str()})
    router.add("POST", "/v1/refunds", create_refund, REFUND)
    router.add("GET", "/v1/refunds/{object_id}", retrieve("refund"), EXPAND)
    router.add("GET", "/v1/refunds", list_of("refund", "charge", "payment_intent"),
               {**PAGE, "charge": Str(), "payment_intent": Str()})
    router.add("GET", "/v1/invoice_payments/{object_id}", retrieve("invoice_payment"), EXPAND, since=BASIL)
    router.add("GET", "/v1/invoice_payments", list_invoice_payments,
               {**PAGE, "invoice": Str(), "status": Enum("canceled", "open", "paid"),
                "payment": Obj({"type": Enum("payment_intent", "charge"), "payment_intent": Str(), "charge": Str()})},
               since=BASIL)


def retrieve(kind: str):
    def handler(sim: StripeSimulator, call: Call, params: dict[str, Any], object_id: str) -> dict[str, Any]:
        return call.ledger.get(kind, object_id)
    return handler


def list_of(kind: str, *filters: str):
    def handler(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        items = call.ledger.all(kind, lambda o: all(o.get(f) == params[f] for f in filters if f in params))
        data, more = page(items, params, kind)
        return list_object(data, more, f"/v1/{kind}s")
    return handler


def list_invoice_payments(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("payment") or {}

    def match(p: dict[str, Any]) -> bool:
        return (p["invoice"] == params.get("invoice", p["invoice"]) and p["status"] == params.get("status", p["status"])
                and all(p["payment"].get(k) == v for k, v in wanted.items()))

    data, more = page(call.ledger.all("invoice_payment", match), params, "invoice_payment")
    return list_object(data, more, "/v1/invoice_payments")


def pay_invoice(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    require(invoice["status"] == "open", f"Invoice is {invoice['status']}: only an open invoice can be paid.",
            code="invoice_unexpected_state" if invoice["status"] != "paid" else "invoice_already_paid")
    if params.get("paid_out_of_band"):
        remaining = invoice["amount_remaining"]
        previous = changes(invoice, {"amount_paid": invoice["amount_paid"] + remaining, "amount_remaining": 0,
                                     "amount_paid_off_stripe": invoice["amount_paid_off_stripe"] + remaining})
        mark_paid(sim, call, invoice, succeeded_event=False)
        emit(sim, call, "invoice.updated", invoice, previous)
        return invoice
    method = params.get("payment_method")
    require(method is not None, "This customer has no attached payment source or default payment method. Pass "
            "payment_method, or set the customer's invoice_settings.default_payment_method.", param="payment_method")
    pay(sim, call, invoice, invoice["amount_remaining"], method)
    return invoice


def pay(sim: StripeSimulator, call: Call, invoice: dict[str, Any], amount: int, method: str) -> dict[str, Any]:
    """One card payment of `amount` against an open invoice; returns the charge."""
    currency = invoice["currency"]
    require(invoice["status"] == "open", f"Invoice {invoice['id']} is {invoice['status']}: only an open invoice can be paid.")
    require(0 < amount <= invoice["amount_remaining"], f"The amount {amount} must be between 1 and the amount remaining "
            f"({invoice['amount_remaining']}).", code="amount_too_large", param="amount")
    minimum = MINIMUM_CHARGE.get(currency, 50)
    require(amount >= minimum, f"Amount must be at least {display_amount(minimum, currency)}.",
            code="amount_too_small", param="amount")
    require(method in SUCCEEDING or method in DECLINES, f"No such PaymentMethod: '{method}'",
            code="resource_missing", param="payment_method", status=404)
    declined = DECLINES.get(method)
    intent = call.ledger.add({
        "id": sim.ids.new("pi_"), "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_received": 0 if declined else amount, "capture_method": "automatic", "canceled_at": None,
        "cancellation_reason": None, "confirmation_method": "automatic", "created": call.now, "currency": currency,
        "customer": invoice["customer"], "description": f"Payment for Invoice {invoice['number']}",
        "last_payment_error": None, "latest_charge": None, "metadata": {}, "payment_method": method,
        "payment_method_types": ["card"], "status": "requires_payment_method" if declined else "succeeded",
    })
    intent["client_secret"] = f"{intent['id']}_secret_{sim.ids.upper(24)}"
    charge = call.ledger.add({
        "id": sim.ids.new("ch_"), "object": "charge", "amount": amount, "amount_captured": 0 if declined else amount,
        "amount_refunded": 0, "balance_transaction": None if declined else sim.ids.new("txn_"),
        "billing_details": {"address": None, "email": None, "name": None, "phone": None}, "captured": not declined,
        "created": call.now, "currency": currency, "customer": invoice["customer"], "description": intent["description"],
        "disputed": False, "failure_code": "card_declined" if declined else None,
        "failure_message": "Your card was declined." if declined else None, "metadata": {},
        "outcome": {"network_status": "declined_by_network" if declined else "approved_by_network",
                    "type": "issuer_declined" if declined else "authorized", "reason": declined,
                    "seller_message": "The bank did not return any further details with this decline." if declined
                    else "Payment complete.", "risk_level": "normal"},
        "paid": not declined, "payment_intent": intent["id"], "payment_method": method,
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "0002" if declined else "4242",
                                                              "exp_month": 12, "exp_year": 2034, "country": "US",
                                                              "funding": "credit"}},
        "receipt_url": None, "refunded": False, "status": "failed" if declined else "succeeded",
    })
    intent["latest_charge"] = charge["id"]
    emit(sim, call, "payment_intent.created", intent)
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if declined:
        intent["last_payment_error"] = {"type": "card_error", "code": "card_declined", "decline_code": declined,
                                        "message": "Your card was declined.", "charge": charge["id"]}
        emit(sim, call, "charge.failed", charge)
        emit(sim, call, "payment_intent.payment_failed", intent)
        emit(sim, call, "invoice.payment_failed", invoice)
        raise StripeError(402, "Your card was declined.", type="card_error", code="card_declined", param="",
                          extra={"decline_code": declined, "charge": charge["id"]})
    payment = call.ledger.add({
        "id": sim.ids.new("inpay_"), "object": "invoice_payment", "amount_paid": amount, "amount_requested": amount,
        "created": call.now, "currency": currency, "invoice": invoice["id"],
        "is_default": not call.ledger.all("invoice_payment", lambda p: p["invoice"] == invoice["id"]),
        "payment": {"type": "payment_intent", "payment_intent": intent["id"]}, "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": call.now},
    })
    emit(sim, call, "charge.succeeded", charge)
    emit(sim, call, "payment_intent.succeeded", intent)
    emit(sim, call, "invoice_payment.paid", payment)
    previous = changes(invoice, {"amount_paid": invoice["amount_paid"] + amount,
                                 "amount_remaining": invoice["amount_remaining"] - amount})
    if invoice["amount_remaining"] == 0:
        mark_paid(sim, call, invoice, succeeded_event=True)
    else:
        emit(sim, call, "invoice.updated", invoice, previous)
    return charge


def create_refund(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    require(("charge" in params) != ("payment_intent" in params), "Pass exactly one of charge or payment_intent.",
            code="parameter_missing" if not ({"charge", "payment_intent"} & set(params)) else "parameters_exclusive",
            param="charge")
    if "payment_intent" in params:
        intent = call.ledger.get("payment_intent", params["payment_intent"], param="payment_intent")
        require(intent["latest_charge"] is not None and intent["status"] == "succeeded",
                f"PaymentIntent {intent['id']} has no successful charge to refund.", param="payment_intent")
        charge = call.ledger.objects[intent["latest_charge"]]
    else:
        charge = call.ledger.get("charge", params["charge"], param="charge")
    return refund(sim, call, charge, params.get("amount"), reason=params.get("reason"),
                  metadata=merge_metadata({}, params.get("metadata", {})))


def refund(sim: StripeSimulator, call: Call, charge: dict[str, Any], amount: int | None, *, reason: str | None = None,
           metadata: dict[str, str] | None = None, status: str = "succeeded") -> dict[str, Any]:
    require(charge["status"] == "succeeded", f"Charge {charge['id']} did not succeed: nothing to refund.", param="charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    require(remaining > 0, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded",
            param="charge")
    amount = remaining if amount is None else amount
    require(amount <= remaining, f"Refund amount ({display_amount(amount, charge['currency'])}) is greater than "
            f"unrefunded amount on charge ({display_amount(remaining, charge['currency'])})", code="amount_too_large",
            param="amount")
    created = call.ledger.add({
        "id": sim.ids.new("re_"), "object": "refund", "amount": amount, "balance_transaction": sim.ids.new("txn_"),
        "charge": charge["id"], "created": call.now, "currency": charge["currency"], "metadata": metadata or {},
        "payment_intent": charge["payment_intent"], "reason": reason, "receipt_number": None, "status": status,
        "failure_reason": None, "failure_balance_transaction": None,
        "destination_details": {"type": "card", "card": {"type": "refund"}},
    })
    previous = changes(charge, {"amount_refunded": charge["amount_refunded"] + amount,
                                "refunded": charge["amount_refunded"] + amount == charge["amount"]})
    emit(sim, call, "refund.created", created)
    emit(sim, call, "charge.refunded", charge, previous)
    if status == "succeeded" and charge.get("payment_method") == REFUND_FAILS_WITH:
        call.ledger.refunds_fail_at[created["id"]] = call.now + REFUND_FAILS_AFTER
    return created


def fail_refund(sim: StripeSimulator, call: Call, refund_id: str,
                failure_reason: str = REFUND_FAILURE_DEFAULT) -> dict[str, Any]:
    """A succeeded refund fails after the fact: the money goes back to the charge, and Stripe
    tells with refund.updated, refund.failed and charge.refund.updated."""
    found = call.ledger.get("refund", refund_id)
    if failure_reason not in REFUND_FAILURE_REASONS:
        raise ValueError(f"failure_reason must be one of {', '.join(REFUND_FAILURE_REASONS)}, not {failure_reason!r}")
    require(found["status"] == "succeeded", f"Refund {refund_id} is {found['status']}: only a succeeded refund "
            "fails after the fact.", code="refund_unexpected_state")
    call.ledger.refunds_fail_at.pop(refund_id, None)
    previous = changes(found, {"status": "failed", "failure_reason": failure_reason,
                               "failure_balance_transaction": sim.ids.new("txn_")})
    _refund_given_back(call, found)
    emit(sim, call, "refund.updated", found, previous)
    emit(sim, call, "refund.failed", found, previous)
    emit(sim, call, "charge.refund.updated", found, previous)
    return found


def _refund_given_back(call: Call, refund: dict[str, Any]) -> None:
    """A refund that did not go through: its amount is the charge's again."""
    charge = call.ledger.objects[refund["charge"]]
    changes(charge, {"amount_refunded": charge["amount_refunded"] - refund["amount"], "refunded": False})


def refunds_fail_due(sim: StripeSimulator, call: Call) -> None:
    """The pm_card_refundFail refunds whose time has come fail (StripeSimulator.tick)."""
    for refund_id, at in sorted(call.ledger.refunds_fail_at.items(), key=lambda item: item[1]):
        if at <= call.now:
            fail_refund(sim, call, refund_id)


def settle_refund(sim: StripeSimulator, call: Call, refund_id: str, status: str) -> dict[str, Any]:
    """A pending refund succeeds or fails later (`refund.updated`); a failed one gives the money back to the charge."""
    found = call.ledger.get("refund", refund_id)
    if status not in ("succeeded", "failed", "canceled"):
        raise ValueError(f"a refund settles as succeeded, failed or canceled, not {status!r}")
    previous = changes(found, {"status": status, "failure_reason": REFUND_FAILURE_DEFAULT if status == "failed" else None})
    if status != "succeeded":
        _refund_given_back(call, found)
    if previous:
        emit(sim, call, "refund.updated", found, previous)
    return found
