"""API versions: which ones exist, and how an object looks at each.

Stripe renders every answer at one API version: the request's `Stripe-Version` header if
it names a real version (an unknown one is refused with 400), else the account's default
version, which is whatever was current when the account was opened. Events are rendered at
the version in force when they were created (or at the webhook endpoint's own version), not
at the version of whoever retrieves them: one reason to re-fetch the object.

The difference modelled here is the one that bites an invoicing integration: since
2025-03-31.basil an invoice has no `paid`, `charge` or `payment_intent`, a charge and a
payment intent no longer name their `invoice`, and the link between them is an invoice
payment (`/v1/invoice_payments`, or `expand[]=payments` on the invoice).
"""
from __future__ import annotations

import copy
from typing import Any

from .state import Ledger, list_object
from .web import StripeError

BASIL = "2025-03-31.basil"
LATEST = "2026-10-28.endive"  # stripe-python 16's default
KNOWN_VERSIONS = frozenset({
    "2020-08-27", "2022-08-01", "2022-11-15", "2023-08-16", "2023-10-16", "2024-04-10", "2024-06-20",
    "2024-09-30.acacia", "2024-10-28.acacia", "2024-11-20.acacia", "2024-12-18.acacia", "2025-01-27.acacia",
    "2025-02-24.acacia", BASIL, "2025-04-30.basil", "2025-05-28.basil", "2025-06-30.basil", "2025-07-30.basil",
    "2025-08-27.basil", "2025-09-30.clover", "2025-10-29.clover", LATEST,
})
MAX_EXPAND_DEPTH = 4


def check_version(value: str, known: frozenset[str]) -> str:
    if value not in known:
        raise StripeError(400, f"Invalid Stripe API version: {value}")
    return value


def has_invoice_payments(version: str) -> bool:
    return version >= BASIL


def render(ledger: Ledger, obj: dict[str, Any], version: str, expand: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of `obj` as a client at `version` sees it, with the `expand` paths filled in."""
    kind = obj.get("object")
    if kind in ("list", "search_result"):
        out = {**obj, "data": [render(ledger, item, version) for item in obj["data"]]}
    else:
        out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
    if kind == "invoice":
        _invoice_at(ledger, out, version)
    elif kind in ("charge", "payment_intent") and not has_invoice_payments(version):
        out["invoice"] = _invoice_of(ledger, out["id"] if kind == "payment_intent" else out.get("payment_intent"))
    elif kind == "event":
        at = obj.get("_render_version") or out["api_version"]
        out["api_version"] = at
        out["data"]["object"] = render(ledger, obj["data"]["object"], at)
    for path in expand:
        parts = path.split(".")
        if len(parts) > MAX_EXPAND_DEPTH:
            raise StripeError(400, f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property ({path}).",
                              param="expand")
        _expand(ledger, out, parts, version, path)
    return out


def _invoice_payments(ledger: Ledger, invoice_id: str) -> list[dict[str, Any]]:
    return ledger.all("invoice_payment", lambda p: p["invoice"] == invoice_id)


def _invoice_of(ledger: Ledger, payment_intent_id: str | None) -> str | None:
    if not payment_intent_id:
        return None
    for payment in ledger.all("invoice_payment"):
        if payment["payment"].get("payment_intent") == payment_intent_id:
            return payment["invoice"]
    return None


def _invoice_at(ledger: Ledger, out: dict[str, Any], version: str) -> None:
    out.pop("payments", None)  # "includable": only there when expanded
    if has_invoice_payments(version):
        return
    paid = [p for p in _invoice_payments(ledger, out["id"]) if p["status"] == "paid"]
    intent = paid[0]["payment"].get("payment_intent") if paid else None
    out["paid"] = out["status"] == "paid"
    out["paid_out_of_band"] = bool(out.get("amount_paid_off_stripe"))
    out["payment_intent"] = intent
    out["charge"] = ledger.objects[intent]["latest_charge"] if intent else None
    out.pop("amount_paid_off_stripe", None)


def _expand(ledger: Ledger, node: dict[str, Any], parts: list[str], version: str, full: str) -> None:
    key, rest = parts[0], parts[1:]
    if key == "data" and node.get("object") in ("list", "search_result"):
        for item in node["data"]:
            if rest:
                _expand(ledger, item, rest, version, full)
        return
    value = node.get(key)
    if key == "payments" and node.get("object") == "invoice" and has_invoice_payments(version):
        payments = _invoice_payments(ledger, node["id"])
        node[key] = list_object((render(ledger, p, version) for p in payments), False,
                                f"/v1/invoice_payments?invoice={node['id']}")
    elif isinstance(value, str) and ledger.find(value) is not None:
        node[key] = render(ledger, ledger.objects[value], version)
    elif isinstance(value, dict) and rest:
        pass  # a nested hash (invoice_payment.payment): expand inside it
    elif value is None and key in node:
        return  # a null reference stays null
    else:
        raise StripeError(400, f"This property cannot be expanded ({full}).", param="expand")
    if rest and isinstance(node[key], dict):
        _expand(ledger, node[key], rest, version, full)
