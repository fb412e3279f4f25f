"""Invoices and invoice items: create, add items, finalize, retrieve, list, update, void, delete.

The lifecycle Stripe enforces: items go only onto a draft; finalizing assigns the number,
the hosted page and (for send_invoice) the due date, and a draft whose `auto_advance` is
true finalizes itself about an hour after creation (`automatically_finalizes_at`), ready
or not; an invoice whose amount due is 0 is paid the moment it is finalized; only an open
invoice can be voided and only a draft deleted. Since 2022-08-01 `auto_advance` defaults to
false for invoices made through the API.

Quirks kept: an invoice embeds at most 10 lines (`lines.has_more`; the rest are at
/v1/invoices/{id}/lines); a line's currency must be the invoice's; `days_until_due` only
goes with send_invoice, which requires it (or `due_date`).
"""
from __future__ import annotations

import base64
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .context import Call, changes, emit
from .customers import live_customer, merge_metadata, page_offset
from .forms import EXPAND, PAGE, Bool, Currency, DecimalString, Enum, Int, ListOf, Metadata, Obj, Str
from .search import parse_query
from .state import DAY, line_amount, list_object, page, require
from .web import Router, StripeError

if TYPE_CHECKING:
    from .app import StripeSimulator

EMBEDDED_LINES = 10
AUTO_FINALIZE_AFTER = 3600
CUSTOM_FIELDS = ListOf(Obj({"name": Str(max_length=40), "value": Str(max_length=140)}, required=("name", "value")),
                       max_items=4)
EDITABLE = {
    "description": Str(max_length=1500), "metadata": Metadata(), "footer": Str(max_length=5000),
    "collection_method": Enum("charge_automatically", "send_invoice"), "days_until_due": Int(minimum=0, maximum=3650),
    "due_date": Int(minimum=0, maximum=None), "auto_advance": Bool(), "custom_fields": CUSTOM_FIELDS, **EXPAND,
}
CREATE = {**EDITABLE, "customer": Str(), "currency": Currency(), "number": Str(max_length=26),
          "pending_invoice_items_behavior": Enum("exclude", "include")}
ITEM = {
    "customer": Str(), "invoice": Str(), "amount": Int(minimum=-99_999_999), "currency": Currency(),
    "description": Str(max_length=500), "metadata": Metadata(), "quantity": Int(minimum=0, maximum=None),
    "quantity_decimal": DecimalString(), "unit_amount_decimal": DecimalString(), "discountable": Bool(),
    "period": Obj({"start": Int(minimum=0, maximum=None), "end": Int(minimum=0, maximum=None)}, required=("start", "end")),
    **EXPAND,
}
LIST = {**PAGE, "customer": Str(), "status": Enum("draft", "open", "paid", "uncollectible", "void"),
        "collection_method": Enum("charge_automatically", "send_invoice")}
SEARCH_FIELDS = ("created", "currency", "customer", "metadata", "number", "status", "total")
AFTER_FINALIZE = {"metadata", "auto_advance", "expand"}


def register(router: Router) -> None:
    router.add("POST", "/v1/invoices", create, CREATE)
    router.add("GET", "/v1/invoices", list_invoices, LIST)
    router.add("GET", "/v1/invoices/search", search, {"query": Str(), "limit": PAGE["limit"], "page": Str(), **EXPAND})
    router.add("GET", "/v1/invoices/{invoice_id}", retrieve, EXPAND)
    router.add("POST", "/v1/invoices/{invoice_id}", update, EDITABLE)
    router.add("DELETE", "/v1/invoices/{invoice_id}", delete_draft, {})
    router.add("GET", "/v1/invoices/{invoice_id}/lines", list_lines, PAGE)
    router.add("POST", "/v1/invoices/{invoice_id}/finalize", finalize, {"auto_advance": Bool(), **EXPAND})
    router.add("POST", "/v1/invoices/{invoice_id}/void", void, EXPAND)
    router.add("POST", "/v1/invoiceitems", create_item, ITEM)
    router.add("GET", "/v1/invoiceitems/{item_id}", retrieve_item, EXPAND)


def _collection(params: dict[str, Any], current: dict[str, Any] | None = None) -> tuple[str, int | None, int | None]:
    method = params.get("collection_method") or (current or {}).get("collection_method") or "charge_automatically"
    days = params.get("days_until_due", (current or {}).get("_days_until_due"))
    due = params.get("due_date", (current or {}).get("due_date") if "days_until_due" not in params else None)
    if method == "charge_automatically":
        require(days is None and due is None, "Invalid parameter: days_until_due and due_date can only be set when "
                "collection_method=send_invoice.", param="days_until_due" if days is not None else "due_date")
    else:
        require(days is not None or due is not None, "Missing required param: days_until_due.",
                code="parameter_missing", param="days_until_due")
        require(days is None or due is None, "You cannot set both days_until_due and due_date.",
                code="parameters_exclusive", param="due_date")
    return method, days, due


def create(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    require("customer" in params, "Missing required param: customer.", code="parameter_missing", param="customer")
    customer = live_customer(call, params["customer"], "customer")
    method, days, due = _collection(params)
    currency = params.get("currency") or customer["currency"] or call.ledger.account.default_currency
    auto = params.get("auto_advance", call.version < "2022-08-01")
    invoice = call.ledger.add({
        "id": sim.ids.new("in_"), "object": "invoice", "account_country": call.ledger.account.country,
        "account_name": call.ledger.account.name, "amount_due": 0, "amount_overpaid": 0, "amount_paid": 0,
        "amount_paid_off_stripe": 0, "amount_remaining": 0, "amount_shipping": 0, "attempt_count": 0,
        "attempted": False, "auto_advance": auto, "automatically_finalizes_at": call.now + AUTO_FINALIZE_AFTER if auto else None,
        "billing_reason": "manual", "collection_method": method, "created": call.now, "currency": currency,
        "custom_fields": params.get("custom_fields") or None, "customer": customer["id"],
        "customer_address": customer["address"], "customer_email": customer["email"], "customer_name": customer["name"],
        "customer_phone": customer["phone"], "default_payment_method": None, "description": params.get("description") or None,
        "discounts": [], "due_date": due if due is not None else (call.now + days * DAY if days is not None else None),
        "effective_at": None, "ending_balance": None, "footer": params.get("footer") or None, "hosted_invoice_url": None,
        "invoice_pdf": None, "issuer": {"type": "self"}, "last_finalization_error": None,
        "lines": list_object([], False, ""), "metadata": merge_metadata({}, params.get("metadata", {})),
        "next_payment_attempt": None, "number": params.get("number") or None, "on_behalf_of": None, "parent": None,
        "period_end": call.now, "period_start": call.now, "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "starting_balance": 0,
        "statement_descriptor": None, "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
        "subtotal": 0, "subtotal_excluding_tax": 0, "total": 0, "total_excluding_tax": 0, "total_discount_amounts": [],
        "total_taxes": [], "webhooks_delivered_at": None, "_days_until_due": days, "_line_ids": [],
    })
    invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
    _schedule(call, invoice)
    if params.get("pending_invoice_items_behavior") == "include":
        for item in call.ledger.all("invoiceitem", lambda i: i["customer"] == customer["id"] and i["invoice"] is None
                                    and i["currency"] == currency)[::-1]:
            _attach(sim, call.ledger, invoice, item)
    recompute(invoice)
    sim.searchable(call.ledger, invoice["id"])
    emit(sim, call, "invoice.created", invoice)
    return invoice


def search(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Invoice search (metadata, customer, number, status...), seen only after the search lag."""
    matches = parse_query(params.get("query", ""), SEARCH_FIELDS, "invoices")
    ledger = call.ledger
    found = ledger.all("invoice", lambda i: i["id"] not in ledger.deleted
                       and ledger.searchable_at.get(i["id"], 0) <= sim.clock.now() and matches(i))
    offset = page_offset(params.get("page"))
    limit = params.get("limit") or 10
    more = offset + limit < len(found)
    next_page = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode() if more else None
    return {"object": "search_result", "data": found[offset:offset + limit], "has_more": more, "next_page": next_page,
            "url": "/v1/invoices/search"}


def _attach(sim: StripeSimulator, ledger: Any, invoice: dict[str, Any], item: dict[str, Any]) -> None:
    item["invoice"] = invoice["id"]
    line = {
        "id": sim.ids.new("il_"), "object": "line_item", "amount": item["amount"], "currency": item["currency"],
        "description": item["description"], "discount_amounts": [], "discountable": item["discountable"], "discounts": [],
        "invoice": invoice["id"], "livemode": ledger.livemode, "metadata": dict(item["metadata"]),
        "parent": {"type": "invoice_item_details", "subscription_item_details": None,
                   "invoice_item_details": {"invoice_item": item["id"], "proration": False,
                                            "proration_details": {"credited_items": None}, "subscription": None}},
        "period": dict(item["period"]), "pretax_credit_amounts": [], "pricing": dict(item["pricing"]),
        "quantity": item["quantity"], "quantity_decimal": item["quantity_decimal"], "subtotal": item["amount"], "taxes": [],
    }
    invoice["_line_ids"].append(line["id"])
    invoice.setdefault("_lines", {})[line["id"]] = line


def recompute(invoice: dict[str, Any]) -> None:
    lines = [invoice["_lines"][i] for i in invoice["_line_ids"]] if invoice["_line_ids"] else []
    subtotal = sum(line["amount"] for line in lines)
    invoice.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=subtotal, total_excluding_tax=subtotal)
    invoice["amount_due"] = max(subtotal - invoice["pre_payment_credit_notes_amount"], 0)
    invoice["amount_remaining"] = max(invoice["amount_due"] - invoice["amount_paid"], 0)
    invoice["lines"] = list_object(lines[:EMBEDDED_LINES], len(lines) > EMBEDDED_LINES, f"/v1/invoices/{invoice['id']}/lines")
    invoice["lines"]["total_count"] = len(lines)


def draft(call: Call, invoice_id: str, param: str = "id") -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id, param=param)
    require(invoice["status"] == "draft", f"You can only add or change items on a draft invoice; invoice {invoice_id} "
            f"is {invoice['status']}.", code="invoice_not_editable", param=param)
    return invoice


def create_item(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    invoice = draft(call, params["invoice"], "invoice") if params.get("invoice") else None
    customer_id = params.get("customer") or (invoice["customer"] if invoice else None)
    require(customer_id is not None, "Missing required param: customer.", code="parameter_missing", param="customer")
    customer = live_customer(call, customer_id, "customer")
    require(invoice is None or invoice["customer"] == customer["id"], f"The invoice {params.get('invoice')} belongs "
            f"to customer {invoice and invoice['customer']}, not {customer['id']}.", param="invoice")
    currency = params.get("currency") or (invoice["currency"] if invoice else None)
    require(currency is not None, "Missing required param: currency.", code="parameter_missing", param="currency")
    require(invoice is None or currency == invoice["currency"], f"The currency of the invoice item ({currency}) must "
            f"match the currency of the invoice ({invoice and invoice['currency']}).", param="currency")
    amount, quantity, unit = _amount(params)
    item = call.ledger.add({
        "id": sim.ids.new("ii_"), "object": "invoiceitem", "amount": amount, "currency": currency,
        "customer": customer["id"], "date": call.now, "description": params.get("description") or None,
        "discountable": params.get("discountable", True), "discounts": [], "invoice": None,
        "metadata": merge_metadata({}, params.get("metadata", {})), "net_amount": amount, "parent": None,
        "period": params.get("period") or {"start": call.now, "end": call.now},
        "pricing": {"type": "price_details", "price_details": None, "unit_amount_decimal": str(unit)},
        "proration": False, "quantity": int(quantity) if quantity == quantity.to_integral() else 1,
        "quantity_decimal": str(quantity), "tax_rates": [], "test_clock": None, "created": call.now,
    })
    if invoice is not None:
        _attach(sim, call.ledger, invoice, item)
        recompute(invoice)
    emit(sim, call, "invoiceitem.created", item)
    return item


def _amount(params: dict[str, Any]) -> tuple[int, Decimal, Decimal]:
    """(line amount, quantity, unit amount): `amount` alone, or a quantity × `unit_amount_decimal`."""
    require(not ("quantity" in params and "quantity_decimal" in params), "You may pass quantity or quantity_decimal, "
            "not both.", code="parameters_exclusive", param="quantity_decimal")
    quantity = Decimal(params["quantity"]) if "quantity" in params else params.get("quantity_decimal", Decimal(1))
    if "amount" in params:
        require("unit_amount_decimal" not in params, "You may pass amount or unit_amount_decimal, not both.",
                code="parameters_exclusive", param="unit_amount_decimal")
        require("quantity" not in params and "quantity_decimal" not in params, "A quantity goes with "
                "unit_amount_decimal, not with amount (amount is the line's total).", code="parameters_exclusive",
                param="quantity")
        return params["amount"], Decimal(1), Decimal(params["amount"])
    require("unit_amount_decimal" in params, "Missing required param: amount (or unit_amount_decimal).",
            code="parameter_missing", param="amount")
    amount = line_amount(quantity, params["unit_amount_decimal"])
    require(abs(amount) <= 99_999_999, f"The line amount {amount} is over the maximum (99999999).",
            code="amount_too_large", param="unit_amount_decimal")
    return amount, quantity, params["unit_amount_decimal"]


def retrieve_item(sim: StripeSimulator, call: Call, params: dict[str, Any], item_id: str) -> dict[str, Any]:
    return call.ledger.get("invoiceitem", item_id, label="invoiceitem")


def retrieve(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    return call.ledger.get("invoice", invoice_id)


def list_invoices(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    def wanted(invoice: dict[str, Any]) -> bool:
        return all(invoice[k] == params[k] for k in ("customer", "status", "collection_method") if k in params)

    data, more = page(call.ledger.all("invoice", wanted), params, "invoice")
    return list_object(data, more, "/v1/invoices")


def list_lines(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    lines = [invoice["_lines"][i] for i in invoice["_line_ids"]]
    start = 0
    if params.get("starting_after"):
        ids = [line["id"] for line in lines]
        require(params["starting_after"] in ids, f"No such line item: '{params['starting_after']}'",
                code="resource_missing", param="starting_after", status=404)
        start = ids.index(params["starting_after"]) + 1
    limit = params.get("limit") or 10
    return list_object(lines[start:start + limit], start + limit < len(lines), f"/v1/invoices/{invoice_id}/lines")


def update(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    if invoice["status"] != "draft":
        refused = sorted(set(params) - AFTER_FINALIZE)
        require(not refused, f"Finalized invoices can't be updated in this way: {', '.join(refused)}.",
                code="invoice_not_editable", param=refused[0] if refused else None)
    updates: dict[str, Any] = {}
    if {"collection_method", "days_until_due", "due_date"} & set(params):
        method, days, due = _collection(params, invoice)
        updates.update(collection_method=method, _days_until_due=days,
                       due_date=due if due is not None else (invoice["created"] + days * DAY if days is not None else None))
    for key in ("description", "footer", "custom_fields"):
        if key in params:
            updates[key] = params[key] or None
    if "auto_advance" in params:
        updates["auto_advance"] = params["auto_advance"]
        if invoice["status"] == "draft":
            updates["automatically_finalizes_at"] = call.now + AUTO_FINALIZE_AFTER if params["auto_advance"] else None
    if "metadata" in params:
        updates["metadata"] = merge_metadata(invoice["metadata"], params["metadata"])
    previous = changes(invoice, updates)
    _schedule(call, invoice)
    if previous:
        emit(sim, call, "invoice.updated", invoice, {k: v for k, v in previous.items() if not k.startswith("_")})
    return invoice


def delete_draft(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    require(invoice["status"] == "draft", "You can only delete draft invoices.", code="invoice_not_editable")
    call.ledger.remove(invoice_id)
    call.ledger.finalizes_at.pop(invoice_id, None)
    emit(sim, call, "invoice.deleted", invoice)
    return {"id": invoice_id, "object": "invoice", "deleted": True}


def finalize(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    if invoice["status"] != "draft":
        raise StripeError(400, "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                          code="invoice_not_editable")
    if "auto_advance" in params:
        invoice["auto_advance"] = params["auto_advance"]
    finalize_draft(sim, call, invoice)
    return invoice


def finalize_draft(sim: StripeSimulator, call: Call, invoice: dict[str, Any]) -> None:
    """Draft → open (or straight to paid when nothing is due). Also run by the clock for
    drafts whose `automatically_finalizes_at` has passed."""
    customer = call.ledger.objects[invoice["customer"]]
    if not invoice["number"]:
        invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
    customer["currency"] = customer["currency"] or invoice["currency"]
    base = f"https://invoice.stripe.com/i/{call.ledger.account.id}/{'live' if call.ledger.livemode else 'test'}_{invoice['id']}"
    call.ledger.finalizes_at.pop(invoice["id"], None)
    invoice.update(status="open", effective_at=call.now, automatically_finalizes_at=None, hosted_invoice_url=base,
                   invoice_pdf=base + "/pdf", customer_address=customer["address"], customer_email=customer["email"],
                   customer_name=customer["name"], customer_phone=customer["phone"], ending_balance=0)
    invoice["status_transitions"]["finalized_at"] = call.now
    recompute(invoice)
    emit(sim, call, "invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        mark_paid(sim, call, invoice, succeeded_event=True)


def mark_paid(sim: StripeSimulator, call: Call, invoice: dict[str, Any], *, succeeded_event: bool) -> None:
    invoice["status"] = "paid"
    invoice["status_transitions"]["paid_at"] = call.now
    emit(sim, call, "invoice.paid", invoice)
    if succeeded_event:
        emit(sim, call, "invoice.payment_succeeded", invoice)


def void(sim: StripeSimulator, call: Call, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = call.ledger.get("invoice", invoice_id)
    status = invoice["status"]
    require(status != "draft", "This invoice is a draft: it can't be voided. Delete a draft instead.",
            code="invoice_not_editable")
    require(status in ("open", "uncollectible"), f"You can only void an open invoice; this one is {status}.",
            code="invoice_not_editable")
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = call.now
    invoice["amount_remaining"] = 0
    emit(sim, call, "invoice.voided", invoice)
    return invoice


def _schedule(call: Call, invoice: dict[str, Any]) -> None:
    if invoice["status"] == "draft" and invoice["automatically_finalizes_at"]:
        call.ledger.finalizes_at[invoice["id"]] = invoice["automatically_finalizes_at"]
    else:
        call.ledger.finalizes_at.pop(invoice["id"], None)


def auto_finalize_due(sim: StripeSimulator, call: Call) -> None:
    """What Stripe's scheduler does: finalize drafts whose hour has passed."""
    due = sorted((at, invoice_id) for invoice_id, at in call.ledger.finalizes_at.items() if at <= call.now)
    for _, invoice_id in due:
        finalize_draft(sim, call, call.ledger.objects[invoice_id])
