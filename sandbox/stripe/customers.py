"""Customers: create, update, retrieve, delete, list, and search.

Quirks kept: a deleted customer still retrieves (200, `{"deleted": true}` and nothing
else) but cannot be updated or invoiced; an update that changes nothing makes no
`customer.updated` event; search sees an object only `search_lag` seconds after its last
change (see search.py); lists and search return 10 by default.
"""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from .context import Call, changes, emit
from .forms import ADDRESS, EXPAND, PAGE, Email, Metadata, Str
from .search import parse_query
from .state import list_object, page
from .web import Router, StripeError, no_such

if TYPE_CHECKING:
    from .app import StripeSimulator

FIELDS = {
    "name": Str(max_length=256), "email": Email(), "description": Str(max_length=350), "phone": Str(max_length=20),
    "address": ADDRESS, "metadata": Metadata(), **EXPAND,
}
SEARCH_FIELDS = ("created", "email", "metadata", "name", "phone")
ADDRESS_KEYS = ("line1", "line2", "city", "state", "postal_code", "country")


def register(router: Router) -> None:
    router.add("POST", "/v1/customers", create, FIELDS)
    router.add("GET", "/v1/customers/search", search, {"query": Str(), "limit": PAGE["limit"], "page": Str(), **EXPAND})
    router.add("GET", "/v1/customers", list_customers, {**PAGE, "email": Str(max_length=512)})
    router.add("GET", "/v1/customers/{customer_id}", retrieve, EXPAND)
    router.add("POST", "/v1/customers/{customer_id}", update, FIELDS)
    router.add("DELETE", "/v1/customers/{customer_id}", delete, {})


def _fields(params: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parameter values as the object stores them: "" clears a field, metadata merges."""
    out: dict[str, Any] = {}
    for key in ("name", "email", "description", "phone"):
        if key in params:
            out[key] = params[key] or None
    if "address" in params:
        address = params["address"]
        out["address"] = {k: address.get(k) or None for k in ADDRESS_KEYS} if address else None
    if "metadata" in params:
        out["metadata"] = merge_metadata(existing.get("metadata", {}) if existing else {}, params["metadata"])
    return out


def merge_metadata(current: dict[str, str], update: dict[str, str] | str) -> dict[str, str]:
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise StripeError(400, "Invalid metadata: an object can have at most 50 metadata keys", param="metadata")
    return merged


def customer_object(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    customer = {
        "id": sim.ids.new("cus_"), "object": "customer", "address": None, "balance": 0, "created": call.now,
        "currency": None, "default_source": None, "delinquent": False, "description": None, "discount": None,
        "email": None, "invoice_prefix": sim.ids.upper(8),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "metadata": {}, "name": None, "next_invoice_sequence": 1, "phone": None, "preferred_locales": [],
        "shipping": None, "tax_exempt": "none", "test_clock": None,
    }
    customer.update(_fields(params))
    return customer


def create(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    customer = call.ledger.add(customer_object(sim, call, params))
    sim.searchable(call.ledger, customer["id"])
    emit(sim, call, "customer.created", customer)
    return customer


def live_customer(call: Call, customer_id: str, param: str = "id") -> dict[str, Any]:
    """A customer that may be acted on: a deleted one is 'No such customer' here."""
    if customer_id in call.ledger.deleted:
        raise no_such("customer", customer_id, param)
    return call.ledger.get("customer", customer_id, param=param)


def retrieve(sim: StripeSimulator, call: Call, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    if customer_id in call.ledger.deleted:
        return {"id": customer_id, "object": "customer", "deleted": True}
    return call.ledger.get("customer", customer_id)


def update(sim: StripeSimulator, call: Call, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = live_customer(call, customer_id)
    previous = changes(customer, _fields(params, customer))
    if previous:
        sim.searchable(call.ledger, customer_id)
        emit(sim, call, "customer.updated", customer, previous)
    return customer


def delete(sim: StripeSimulator, call: Call, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = live_customer(call, customer_id)
    call.ledger.deleted.add(customer_id)
    emit(sim, call, "customer.deleted", customer)
    return {"id": customer_id, "object": "customer", "deleted": True}


def list_customers(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    email = params.get("email")
    items = call.ledger.all("customer", lambda c: c["id"] not in call.ledger.deleted
                            and (email is None or c["email"] == email))
    data, more = page(items, params, "customer")
    return list_object(data, more, "/v1/customers")


def search(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    matches = parse_query(params.get("query", ""), SEARCH_FIELDS, "customers")
    ledger = call.ledger
    found = ledger.all("customer", lambda c: c["id"] not in ledger.deleted
                       and ledger.searchable_at.get(c["id"], 0) <= sim.clock.now() and matches(c))
    offset = page_offset(params.get("page"))
    limit = params.get("limit") or 10
    data = found[offset:offset + limit]
    more = offset + limit < len(found)
    next_page = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode() if more else None
    return {"object": "search_result", "data": data, "has_more": more, "next_page": next_page,
            "url": "/v1/customers/search"}


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset":
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise StripeError(400, f"Invalid page: {token}", param="page")
