"""Credit notes against a finalized invoice.

On an open invoice a credit note is "pre-payment": it lowers what is due and, when nothing
is left to pay, the invoice becomes paid. On a paid invoice it is "post-payment" and must be
allocated: `credit_amount` (to the customer's balance), `refund_amount` (a refund of the
invoice's charge) or `out_of_band_amount`, summing to the credit note's amount; with none
given, all of it goes to the customer's balance. A draft or void invoice takes none, and
credit notes together never exceed the invoice's total.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .context import Call, emit
from .customers import merge_metadata
from .forms import EXPAND, PAGE, DecimalString, Enum, Int, ListOf, Metadata, Obj, Str
from .invoices import mark_paid, recompute
from .payments import refund
from .state import line_amount, list_object, page, require
from .web import Router

if TYPE_CHECKING:
    from .app import StripeSimulator

LINE = Obj({"type": Enum("invoice_line_item", "custom_line_item"), "invoice_line_item": Str(), "amount": Int(minimum=0),
            "quantity": Int(minimum=0, maximum=None), "description": Str(max_length=500),
            "unit_amount_decimal": DecimalString(), "metadata": Metadata()}, required=("type",))
CREATE = {"invoice": Str(), "amount": Int(minimum=1), "lines": ListOf(LINE), "memo": Str(max_length=5000),
          "reason": Enum("duplicate", "fraudulent", "order_change", "product_unsatisfactory"), "metadata": Metadata(),
          "credit_amount": Int(minimum=0), "refund_amount": Int(minimum=0), "out_of_band_amount": Int(minimum=0), **EXPAND}


def register(router: Router) -> None:
    router.add("POST", "/v1/credit_notes", create, CREATE)
    router.add("GET", "/v1/credit_notes/{note_id}", retrieve, EXPAND)
    router.add("GET", "/v1/credit_notes", list_notes, {**PAGE, "invoice": Str(), "customer": Str()})


def retrieve(sim: StripeSimulator, call: Call, params: dict[str, Any], note_id: str) -> dict[str, Any]:
    return call.ledger.get("credit_note", note_id)


def list_notes(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    items = call.ledger.all("credit_note", lambda n: all(n[k] == params[k] for k in ("invoice", "customer") if k in params))
    data, more = page(items, params, "credit_note")
    return list_object(data, more, "/v1/credit_notes")


def _lines(sim: StripeSimulator, invoice: dict[str, Any], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(lines):
        name = f"lines[{i}]"
        if line["type"] == "invoice_line_item":
            source = invoice["_lines"].get(line.get("invoice_line_item", ""))
            require(source is not None, f"No such line item on invoice {invoice['id']}: "
                    f"'{line.get('invoice_line_item', '')}'", code="resource_missing", param=f"{name}[invoice_line_item]")
            amount = line.get("amount", source["amount"])
            description = source["description"]
        else:
            require("description" in line, f"Missing required param: {name}[description].", code="parameter_missing",
                    param=f"{name}[description]")
            unit = line.get("unit_amount_decimal")
            amount = line["amount"] if "amount" in line else line_amount(Decimal(line.get("quantity", 1)), unit or Decimal(0))
            description = line["description"]
        out.append({"id": sim.ids.new("cnli_"), "object": "credit_note_line_item", "amount": amount,
                    "description": description, "type": line["type"], "quantity": line.get("quantity", 1),
                    "invoice_line_item": line.get("invoice_line_item"), "metadata": line.get("metadata") or {}})
    return out


def create(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    require("invoice" in params, "Missing required param: invoice.", code="parameter_missing", param="invoice")
    invoice = call.ledger.get("invoice", params["invoice"], param="invoice")
    status = invoice["status"]
    require(status in ("open", "paid"), f"You can only create a credit note for a finalized invoice that is open or "
            f"paid; invoice {invoice['id']} is {status}.", code="invoice_not_editable" if status == "draft" else None,
            param="invoice")
    lines = _lines(sim, invoice, params.get("lines", []))
    amount = params.get("amount", sum(line["amount"] for line in lines) if lines else None)
    require(amount is not None and amount > 0, "Provide the credit note's amount or its lines.",
            code="parameter_missing", param="amount")
    require(not lines or sum(line["amount"] for line in lines) == amount, f"The amount ({amount}) must equal the sum "
            "of the lines.", param="amount")
    credited = invoice["pre_payment_credit_notes_amount"] + invoice["post_payment_credit_notes_amount"]
    require(amount <= invoice["total"] - credited, f"The credit note amount ({amount}) exceeds what can still be "
            f"credited on invoice {invoice['id']} ({invoice['total'] - credited}).", code="amount_too_large",
            param="amount")
    allocation = {k: params[k] for k in ("credit_amount", "refund_amount", "out_of_band_amount") if k in params}
    customer = call.ledger.objects[invoice["customer"]]
    refunds: list[dict[str, Any]] = []
    if status == "open":
        require(not allocation, "credit_amount, refund_amount and out_of_band_amount only apply to a paid invoice.",
                param=next(iter(allocation), None))
        require(amount <= invoice["amount_remaining"], f"The credit note amount ({amount}) exceeds the invoice's "
                f"amount remaining ({invoice['amount_remaining']}).", code="amount_too_large", param="amount")
        kind = "pre_payment"
    else:
        allocation = allocation or {"credit_amount": amount}
        require(sum(allocation.values()) == amount, f"The sum of credit_amount, refund_amount and out_of_band_amount "
                f"({sum(allocation.values())}) must equal the credit note amount ({amount}).", param="amount")
        kind = "post_payment"
        if allocation.get("refund_amount"):
            refunds.append(_refund_invoice(sim, call, invoice, allocation["refund_amount"]))
        customer["balance"] -= allocation.get("credit_amount", 0)
    count = len(call.ledger.all("credit_note", lambda n: n["invoice"] == invoice["id"])) + 1
    note = call.ledger.add({
        "id": sim.ids.new("cn_"), "object": "credit_note", "amount": amount, "amount_shipping": 0, "created": call.now,
        "currency": invoice["currency"], "customer": invoice["customer"], "customer_balance_transaction": None,
        "discount_amount": 0, "discount_amounts": [], "effective_at": call.now, "invoice": invoice["id"],
        "lines": list_object(lines, False, ""), "memo": params.get("memo") or None,
        "metadata": merge_metadata({}, params.get("metadata", {})), "number": f"{invoice['number']}-CN-{count:02d}",
        "out_of_band_amount": allocation.get("out_of_band_amount"), "pdf": f"{invoice['hosted_invoice_url']}/cn/{count}",
        "post_payment_amount": amount if kind == "post_payment" else 0,
        "pre_payment_amount": amount if kind == "pre_payment" else 0, "reason": params.get("reason"),
        "refunds": [{"refund": r["id"], "amount_refunded": r["amount"]} for r in refunds], "status": "issued",
        "subtotal": amount, "subtotal_excluding_tax": amount, "total": amount, "total_excluding_tax": amount,
        "total_taxes": [], "type": kind, "voided_at": None,
    })
    note["lines"]["url"] = f"/v1/credit_notes/{note['id']}/lines"
    key = f"{kind}_credit_notes_amount"
    before = {k: invoice[k] for k in (key, "amount_due", "amount_remaining")}
    invoice[key] += amount
    recompute(invoice)
    emit(sim, call, "credit_note.created", note)
    emit(sim, call, "invoice.updated", invoice, {k: v for k, v in before.items() if invoice[k] != v})
    if status == "open" and invoice["amount_remaining"] == 0:
        mark_paid(sim, call, invoice, succeeded_event=False)
    return note


def _refund_invoice(sim: StripeSimulator, call: Call, invoice: dict[str, Any], amount: int) -> dict[str, Any]:
    payments = call.ledger.all("invoice_payment", lambda p: p["invoice"] == invoice["id"] and p["status"] == "paid")
    require(bool(payments), f"Invoice {invoice['id']} has no card payment to refund; use credit_amount or "
            "out_of_band_amount.", param="refund_amount")
    intent = call.ledger.objects[payments[0]["payment"]["payment_intent"]]
    return refund(sim, call, call.ledger.objects[intent["latest_charge"]], amount)
