"""What the flows get back from Stripe: small frozen records with the fields they use, each
keeping the object as Stripe sent it (`raw`) for the document's record.

And what the flows send: `CustomerDetails` and `InvoiceLine`, already in Stripe's terms
(amounts in the smallest currency unit; money.py converts from Vantagepoint's decimals).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Raw = Mapping[str, Any]


@dataclass(frozen=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""

    def params(self) -> dict[str, str]:
        # "" unsets a field at Stripe, so a line removed in Vantagepoint is removed there too.
        return {k: getattr(self, k) for k in ("line1", "line2", "city", "state", "postal_code", "country")}

    @classmethod
    def from_raw(cls, raw: Raw | None) -> Address | None:
        if not raw:
            return None
        return cls(**{k: raw.get(k) or "" for k in ("line1", "line2", "city", "state", "postal_code", "country")})


@dataclass(frozen=True)
class CustomerDetails:
    """What we keep aligned on a Stripe customer (name, email, address) and our back references."""

    name: str
    email: str = ""
    address: Address | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"name": self.name, "email": self.email, "description": self.description}
        if self.address is not None:
            params["address"] = self.address.params()
        if self.metadata:
            params["metadata"] = dict(self.metadata)
        return params


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice item: either `amount` (the whole line) or `quantity` × `unit_amount_decimal`,
    both in the smallest currency unit."""

    description: str
    amount: int | None = None
    quantity: Decimal = Decimal(1)
    unit_amount_decimal: Decimal | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"description": self.description}
        if self.amount is not None:
            params["amount"] = self.amount
        else:
            if self.unit_amount_decimal is None:
                raise ValueError(f"line {self.description!r}: give amount or unit_amount_decimal")
            if self.quantity == self.quantity.to_integral_value():
                params["quantity"] = int(self.quantity)
            else:
                params["quantity_decimal"] = self.quantity
            params["unit_amount_decimal"] = self.unit_amount_decimal
        if self.metadata:
            params["metadata"] = dict(self.metadata)
        return params


@dataclass(frozen=True)
class StripeAccount:
    id: str
    name: str
    email: str
    country: str
    default_currency: str
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeAccount:
        profile = raw.get("business_profile") or {}
        dashboard = (raw.get("settings") or {}).get("dashboard") or {}
        return cls(raw["id"], profile.get("name") or dashboard.get("display_name") or "", raw.get("email") or "",
                   raw.get("country") or "", raw.get("default_currency") or "", raw)


@dataclass(frozen=True)
class StripeCustomer:
    id: str
    deleted: bool
    name: str
    email: str
    address: Address | None
    metadata: Mapping[str, str]
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeCustomer:
        return cls(raw["id"], bool(raw.get("deleted")), raw.get("name") or "", raw.get("email") or "",
                   Address.from_raw(raw.get("address")), dict(raw.get("metadata") or {}), raw)


@dataclass(frozen=True)
class StripeInvoiceItem:
    id: str
    invoice: str | None
    amount: int
    currency: str
    description: str
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeInvoiceItem:
        return cls(raw["id"], raw.get("invoice"), raw["amount"], raw["currency"], raw.get("description") or "", raw)


@dataclass(frozen=True)
class StripeInvoiceLine:
    id: str
    description: str
    amount: int
    currency: str
    quantity: int | None
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeInvoiceLine:
        return cls(raw["id"], raw.get("description") or "", raw["amount"], raw["currency"], raw.get("quantity"), raw)


@dataclass(frozen=True)
class StripeInvoicePayment:
    id: str
    invoice: str
    amount_paid: int | None
    currency: str
    status: str
    payment_intent: str | None
    charge: str | None
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeInvoicePayment:
        payment = raw.get("payment") or {}
        return cls(raw["id"], raw["invoice"], raw.get("amount_paid"), raw["currency"], raw["status"],
                   _id(payment.get("payment_intent")), _id(payment.get("charge")), raw)


@dataclass(frozen=True)
class StripeInvoice:
    id: str
    customer: str
    status: str
    number: str
    currency: str
    total: int
    amount_due: int
    amount_paid: int
    amount_remaining: int
    collection_method: str
    due_date: int | None
    hosted_invoice_url: str
    metadata: Mapping[str, str]
    line_count: int
    payments: tuple[StripeInvoicePayment, ...] | None  # None unless retrieved with payments
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeInvoice:
        lines = raw.get("lines") or {}
        payments = raw.get("payments")
        return cls(
            raw["id"], _id(raw.get("customer")) or "", raw.get("status") or "", raw.get("number") or "", raw["currency"],
            raw.get("total", 0), raw.get("amount_due", 0), raw.get("amount_paid", 0), raw.get("amount_remaining", 0),
            raw.get("collection_method") or "", raw.get("due_date"), raw.get("hosted_invoice_url") or "",
            dict(raw.get("metadata") or {}), lines.get("total_count", len(lines.get("data", []))),
            None if payments is None else tuple(StripeInvoicePayment.from_raw(p) for p in payments.get("data", [])),
            raw,
        )


@dataclass(frozen=True)
class StripeCreditNote:
    id: str
    invoice: str
    number: str
    amount: int
    currency: str
    type: str
    status: str
    metadata: Mapping[str, str]
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeCreditNote:
        return cls(raw["id"], _id(raw.get("invoice")) or "", raw.get("number") or "", raw["amount"], raw["currency"],
                   raw.get("type") or "", raw.get("status") or "", dict(raw.get("metadata") or {}), raw)


@dataclass(frozen=True)
class StripeCharge:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    customer: str | None
    payment_intent: str | None
    status: str
    paid: bool
    refunded: bool
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeCharge:
        return cls(raw["id"], raw["amount"], raw.get("amount_refunded", 0), raw["currency"], _id(raw.get("customer")),
                   _id(raw.get("payment_intent")), raw.get("status") or "", bool(raw.get("paid")),
                   bool(raw.get("refunded")), raw)


@dataclass(frozen=True)
class StripeRefund:
    id: str
    amount: int
    currency: str
    charge: str | None
    payment_intent: str | None
    status: str
    reason: str | None
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeRefund:
        return cls(raw["id"], raw["amount"], raw["currency"], _id(raw.get("charge")), _id(raw.get("payment_intent")),
                   raw.get("status") or "", raw.get("reason"), raw)


@dataclass(frozen=True)
class StripePaymentIntent:
    id: str
    amount: int
    amount_received: int
    currency: str
    customer: str | None
    status: str
    latest_charge: str | None
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripePaymentIntent:
        return cls(raw["id"], raw["amount"], raw.get("amount_received", 0), raw["currency"], _id(raw.get("customer")),
                   raw.get("status") or "", _id(raw.get("latest_charge")), raw)


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: int
    api_version: str
    object_id: str
    object_type: str
    raw: Raw = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Raw) -> StripeEvent:
        obj = (raw.get("data") or {}).get("object") or {}
        return cls(raw["id"], raw["type"], raw["created"], raw.get("api_version") or "", obj.get("id", ""),
                   obj.get("object", ""), raw)


def _id(value: Any) -> str | None:
    """An id whether the field came as an id or expanded into an object."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value
