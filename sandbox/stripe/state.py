"""What the simulated Stripe holds: accounts, their API keys, and one ledger of objects per
(account, mode).

Objects are kept as the JSON dicts Stripe returns at the newest API version (versions.py
reshapes them for older ones). Every object gets a sequence number so lists sort newest
first with ties broken as Stripe does (the later one first).
"""
from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .web import StripeError, no_such

ALPHABET = string.ascii_letters + string.digits
# Stripe's id lengths after the prefix (what ours look like in logs and admin links).
ID_LENGTHS = {"cus_": 14, "acct_": 16, "req_": 14, "whsec_": 32, "we_": 24, "sk_test_": 99, "sk_live_": 99}
DEFAULT_ID_LENGTH = 24

# Currencies whose smallest unit is the unit itself: 1000 JPY is `amount=1000`.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
# The least a card payment may be, in the smallest unit (Stripe's published minimums).
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "jpy": 50, "sgd": 50, "hkd": 400,
                  "mxn": 1000, "inr": 50}
DAY = 86400


def isoformat_epoch(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def display_amount(amount: int, currency: str) -> str:
    """How a person reads `amount`: 1000 JPY is "1000 JPY", 1000 USD is "10.00 USD"."""
    places = exponent(currency)
    value = Decimal(amount).scaleb(-places)
    return f"{value:.{places}f} {currency.upper()}"


def line_amount(quantity: Decimal, unit_amount_decimal: Decimal) -> int:
    """A line's amount in the smallest unit, rounded half up (an assumption: Stripe rounds
    quantity × unit_amount_decimal to an integer and does not document the mode)."""
    return int((quantity * unit_amount_decimal).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class IdMaker:
    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def new(self, prefix: str) -> str:
        length = ID_LENGTHS.get(prefix, DEFAULT_ID_LENGTH)
        return prefix + "".join(self._random.choice(ALPHABET) for _ in range(length))

    def secret(self, prefix: str, length: int = 99) -> str:
        return prefix + "".join(self._random.choice(ALPHABET) for _ in range(length))

    def upper(self, length: int) -> str:
        return "".join(self._random.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def mask_key(key: str) -> str:
    """How Stripe names a key in an error: its prefix, stars, and the last four characters."""
    prefix = next((p for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_") if key.startswith(p)), "")
    return prefix + "*" * max(len(key) - len(prefix) - 4, 0) + key[-4:]


ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"


@dataclass
class ApiKey:
    secret: str
    account_id: str
    livemode: bool
    state: str = ACTIVE
    # For restricted keys (rk_...): resource ("customers", "invoices", ...) → "read" or "write".
    permissions: dict[str, str] | None = None

    @property
    def last4(self) -> str:
        return self.secret[-4:]


@dataclass
class Account:
    id: str
    name: str
    email: str
    country: str = "US"
    default_currency: str = "usd"
    api_version: str = "2024-06-20"  # what a request without Stripe-Version gets

    def as_json(self, livemode: bool) -> dict[str, Any]:
        return {
            "id": self.id, "object": "account", "type": "standard", "country": self.country, "email": self.email,
            "default_currency": self.default_currency, "charges_enabled": True, "payouts_enabled": True,
            "details_submitted": True, "business_type": "company",
            "business_profile": {"name": self.name, "url": None, "support_email": self.email},
            "settings": {"dashboard": {"display_name": self.name, "timezone": "Etc/UTC"}},
            "metadata": {}, "created": 1_600_000_000,
        }


@dataclass
class Ledger:
    """Every object of one account in one mode (test or live), by kind and id."""

    account: Account
    livemode: bool
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_kind: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sequence: dict[str, int] = field(default_factory=dict)
    searchable_at: dict[str, float] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    # Drafts Stripe will finalize by itself, and when (invoice id → epoch).
    finalizes_at: dict[str, int] = field(default_factory=dict)
    # Succeeded refunds of a pm_card_refundFail charge, which fail by themselves (refund id → epoch).
    refunds_fail_at: dict[str, int] = field(default_factory=dict)
    _next: int = 0

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["livemode"] = self.livemode
        self.objects[obj["id"]] = obj
        self.by_kind.setdefault(obj["object"], {})[obj["id"]] = obj
        self.sequence[obj["id"]] = self._next
        self._next += 1
        return obj

    def remove(self, object_id: str) -> None:
        obj = self.objects.pop(object_id)
        del self.by_kind[obj["object"]][object_id]

    def get(self, kind: str, object_id: str, *, label: str | None = None, param: str | None = None) -> dict[str, Any]:
        obj = self.by_kind.get(kind, {}).get(object_id)
        if obj is None:
            raise no_such(label or kind, object_id, param)
        return obj

    def find(self, object_id: str) -> dict[str, Any] | None:
        return self.objects.get(object_id)

    def all(self, kind: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Newest first, as every Stripe list is."""
        found = [o for o in self.by_kind.get(kind, {}).values() if where is None or where(o)]
        return sorted(found, key=lambda o: (o["created"], self.sequence[o["id"]]), reverse=True)


def page(items: list[dict[str, Any]], params: dict[str, Any], label: str) -> tuple[list[dict[str, Any]], bool]:
    """Cursor pagination: `limit` (default 10, as Stripe's), `starting_after` or `ending_before`."""
    limit = params.get("limit") or 10
    ids = [o["id"] for o in items]
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise no_such(label, cursor, "starting_after")
        start = ids.index(cursor) + 1
        chunk = items[start:start + limit]
        return chunk, start + limit < len(items)
    if params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise no_such(label, cursor, "ending_before")
        end = ids.index(cursor)
        return items[max(0, end - limit):end], end - limit > 0
    return items[:limit], len(items) > limit


def list_object(data: Iterable[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    return {"object": "list", "data": list(data), "has_more": has_more, "url": url}


def require(condition: bool, message: str, *, code: str | None = None, param: str | None = None,
            status: int = 400) -> None:
    if not condition:
        raise StripeError(status, message, code=code, param=param)
