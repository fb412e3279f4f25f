"""StripeBillingClient: one tenant's Stripe account, as the billing flows use it.

Built on stripe-python's `StripeClient` (request encoding, headers, typed errors), sending
through the engine's HTTP policy (transport.py), with:

- the API version pinned from the connection (`Stripe-Version` on every request);
- pacing below Stripe's per-account limit (25 requests/s in test mode, 100 live) through
  the shared limiter, so all workers together stay under it and 429s stay rare;
- Idempotency-Keys passed in by the caller on every create (the engine's effects make them,
  stable across retries and replays); this client never invents one that matters;
- errors mapped to failure kinds (errors.py), naming the key by its last four characters.

Thin helpers only: which customer, which invoice, what to do after an unknown outcome is
the flows' business.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import stripe

from connector.failures import ConfigFailure, DataFailure
from connector.http import HttpPolicy, PolicyClient
from connector.ratelimit import Rate, RateLimiter, shared_limiter
from tenants.models import StripeConnection, Tenant

from . import paths
from .errors import SYSTEM, failure_from
from .resources import (
    CustomerDetails,
    InvoiceLine,
    StripeAccount,
    StripeCharge,
    StripeCreditNote,
    StripeCustomer,
    StripeEvent,
    StripeInvoice,
    StripeInvoiceItem,
    StripeInvoiceLine,
    StripeInvoicePayment,
    StripePaymentIntent,
    StripeRefund,
)
from .transport import PolicyHTTPClient

DEFAULT_API_BASE = "https://api.stripe.com"
# Pace at 95% of the limit: evenly spaced requests leave room for jitter before a strict
# one-second window at Stripe counts one too many.
PACE = 0.95
MAX_PAGES = 1000


class StripeBillingClient:
    def __init__(
        self,
        connection: StripeConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: HttpPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not connection.secret_key:
            raise ConfigFailure(f"the Stripe connection of {connection.tenant} has no secret key", system=SYSTEM)
        self.connection = connection
        self._key = connection.secret_key
        self.api_version = connection.api_version or stripe.api_version
        self.limiter = limiter or shared_limiter()
        self.rate = Rate(connection.requests_per_second * PACE)
        self._bucket = f"stripe:{connection.pk or id(connection)}"
        base = (connection.api_base or DEFAULT_API_BASE).rstrip("/")
        self.http = PolicyClient(base, system=SYSTEM, policy=policy, transport=transport, sleep=sleep,
                                 before_request=self._pace, tenant_id=getattr(connection, "tenant_id", None))
        self.sdk = stripe.StripeClient(self._key, stripe_version=self.api_version, base_addresses={"api": base},
                                       http_client=PolicyHTTPClient(self.http), max_network_retries=0)

    @property
    def livemode(self) -> bool:
        return "_live_" in self._key[:8]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> StripeBillingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self, method: str, path: str) -> None:
        self.limiter.acquire(self._bucket, self.rate)

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
             idempotency_key: str | None = None) -> dict[str, Any]:
        """One request; the answer's JSON, or the failure it stands for."""
        options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
        try:
            response = self.sdk.raw_request(method.lower(), path, **dict(params or {}), **options)
        except stripe.StripeError as exc:
            raise failure_from(exc, method=method.upper(), path=path, key=self._key) from None
        return response.data  # type: ignore[return-value]

    def _all(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list, page after page (Stripe returns 10 unless asked)."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self.call("GET", path, {**params, "limit": paths.PAGE_SIZE,
                                           **({"starting_after": cursor} if cursor else {})})
            yield from page["data"]
            if not page.get("has_more") or not page["data"]:
                return
            cursor = page["data"][-1]["id"]
        raise DataFailure(f"GET {path}: more than {MAX_PAGES} pages", system=SYSTEM)

    # --- account ------------------------------------------------------------------------------

    def account(self) -> StripeAccount:
        return StripeAccount.from_raw(self.call("GET", paths.ACCOUNT))

    # --- customers ----------------------------------------------------------------------------

    def find_customer(self, *, metadata: Mapping[str, str]) -> StripeCustomer | None:
        """The one live customer carrying all these metadata values, found through search.

        Search lags writes (about a minute at worst): a customer created moments ago may not
        be found, which is why every create carries an Idempotency-Key. Two matches are a
        data failure naming both: a human must merge them."""
        query = " AND ".join(f"metadata['{_quoted(k)}']:'{_quoted(v)}'" for k, v in sorted(metadata.items()))
        found = [StripeCustomer.from_raw(c) for c in self._search(paths.CUSTOMER_SEARCH, query)]
        if len(found) > 1:
            raise DataFailure(f"{len(found)} Stripe customers match {query}: {', '.join(c.id for c in found)}",
                              system=SYSTEM)
        return found[0] if found else None

    def list_customers(self, *, email: str) -> list[StripeCustomer]:
        """The customers with this email, read from the list (at once, unlike search)."""
        return [StripeCustomer.from_raw(raw) for raw in self._all(paths.CUSTOMERS, {"email": email})]

    def _search(self, path: str, query: str) -> Iterator[dict[str, Any]]:
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            page = self.call("GET", path, {"query": query, "limit": paths.PAGE_SIZE,
                                           **({"page": page_token} if page_token else {})})
            yield from page["data"]
            if not page.get("has_more"):
                return
            page_token = page["next_page"]

    def retrieve_customer(self, customer_id: str) -> StripeCustomer:
        """A deleted customer comes back with `deleted=True` (Stripe answers 200 for it)."""
        return StripeCustomer.from_raw(self.call("GET", paths.path(paths.CUSTOMER, customer_id)))

    def create_customer(self, details: CustomerDetails, *, idempotency_key: str) -> StripeCustomer:
        return StripeCustomer.from_raw(self.call("POST", paths.CUSTOMERS, details.params(),
                                                 idempotency_key=idempotency_key))

    def update_customer(self, customer_id: str, details: CustomerDetails, *,
                        idempotency_key: str | None = None) -> StripeCustomer:
        return StripeCustomer.from_raw(self.call("POST", paths.path(paths.CUSTOMER, customer_id), details.params(),
                                                 idempotency_key=idempotency_key))

    # --- invoices -----------------------------------------------------------------------------

    def create_invoice(self, *, customer_id: str, currency: str, idempotency_key: str, days_until_due: int | None = None,
                       metadata: Mapping[str, str] | None = None, description: str = "",
                       number: str = "") -> StripeInvoice:
        """A draft. `days_until_due` makes it a send_invoice invoice (emailed, paid on the
        hosted page); None charges the customer's default payment method. `auto_advance` stays
        off until `finalize_invoice`: a draft with it on finalizes itself within the hour,
        whether every line was added or not."""
        params: dict[str, Any] = {"customer": customer_id, "currency": currency.lower(), "auto_advance": False,
                                  "pending_invoice_items_behavior": "exclude"}
        if days_until_due is not None:
            params.update(collection_method="send_invoice", days_until_due=days_until_due)
        else:
            params["collection_method"] = "charge_automatically"
        if metadata:
            params["metadata"] = dict(metadata)
        if description:
            params["description"] = description
        if number:
            params["number"] = number
        return StripeInvoice.from_raw(self.call("POST", paths.INVOICES, params, idempotency_key=idempotency_key))

    def add_invoice_item(self, *, invoice_id: str, customer_id: str, line: InvoiceLine,
                         idempotency_key: str) -> StripeInvoiceItem:
        params = {"invoice": invoice_id, "customer": customer_id, **line.params()}
        return StripeInvoiceItem.from_raw(self.call("POST", paths.INVOICE_ITEMS, params,
                                                    idempotency_key=idempotency_key))

    def finalize_invoice(self, invoice_id: str, *, idempotency_key: str, auto_advance: bool = True) -> StripeInvoice:
        """Draft → open (or paid at once when nothing is due). `auto_advance` (Stripe's term)
        lets Stripe collect from here on: email a send_invoice invoice and its reminders, or
        charge the card on file; False leaves the open invoice alone until someone acts."""
        return StripeInvoice.from_raw(self.call("POST", paths.path(paths.INVOICE_FINALIZE, invoice_id),
                                                {"auto_advance": auto_advance}, idempotency_key=idempotency_key))

    def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> StripeInvoice:
        return StripeInvoice.from_raw(self.call("POST", paths.path(paths.INVOICE_VOID, invoice_id),
                                                idempotency_key=idempotency_key))

    def retrieve_invoice(self, invoice_id: str, *, with_payments: bool = True) -> StripeInvoice:
        """With its invoice payments (what paid it, since 2025-03-31.basil) unless told not to."""
        params = {"expand": ["payments"]} if with_payments else {}
        return StripeInvoice.from_raw(self.call("GET", paths.path(paths.INVOICE, invoice_id), params))

    def list_invoices(self, *, customer_id: str, status: str | None = None) -> list[StripeInvoice]:
        params: dict[str, Any] = {"customer": customer_id, **({"status": status} if status else {})}
        return [StripeInvoice.from_raw(raw) for raw in self._all(paths.INVOICES, params)]

    def find_invoice(self, *, customer_id: str, metadata: Mapping[str, str]) -> StripeInvoice | None:
        """The customer's newest invoice carrying these metadata values (a look before a re-create;
        lists are read at once, unlike search)."""
        for invoice in self.list_invoices(customer_id=customer_id):
            if all(invoice.metadata.get(k) == v for k, v in metadata.items()):
                return invoice
        return None

    def search_invoices(self, *, metadata: Mapping[str, str]) -> list[StripeInvoice]:
        """Every invoice carrying all these metadata values, through search: one request for
        any number of invoices, but blind to those made in the last minute or so (search lags
        writes), so it finds what earlier runs or other installations made, never a look after
        an unknown outcome (find_invoice is that)."""
        query = " AND ".join(f"metadata['{_quoted(k)}']:'{_quoted(v)}'" for k, v in sorted(metadata.items()))
        return [StripeInvoice.from_raw(raw) for raw in self._search(paths.INVOICE_SEARCH, query)]

    def list_invoice_lines(self, invoice_id: str) -> list[StripeInvoiceLine]:
        """Every line of the invoice (an invoice embeds only its first 10)."""
        return [StripeInvoiceLine.from_raw(raw) for raw in self._all(paths.path(paths.INVOICE_LINES, invoice_id), {})]

    def list_invoice_payments(self, *, invoice_id: str | None = None,
                              payment_intent_id: str | None = None) -> list[StripeInvoicePayment]:
        params: dict[str, Any] = {}
        if invoice_id:
            params["invoice"] = invoice_id
        if payment_intent_id:
            params["payment"] = {"type": "payment_intent", "payment_intent": payment_intent_id}
        return [StripeInvoicePayment.from_raw(raw) for raw in self._all(paths.INVOICE_PAYMENTS, params)]

    def create_credit_note(self, *, invoice_id: str, amount: int, idempotency_key: str, reason: str | None = None,
                           memo: str = "", metadata: Mapping[str, str] | None = None) -> StripeCreditNote:
        """Against a finalized invoice: lowers what is due on an open one; on a paid one the
        amount goes to the customer's credit balance."""
        params: dict[str, Any] = {"invoice": invoice_id, "amount": amount}
        if reason:
            params["reason"] = reason
        if memo:
            params["memo"] = memo
        if metadata:
            params["metadata"] = dict(metadata)
        return StripeCreditNote.from_raw(self.call("POST", paths.CREDIT_NOTES, params, idempotency_key=idempotency_key))

    def list_credit_notes(self, *, invoice_id: str) -> list[StripeCreditNote]:
        return [StripeCreditNote.from_raw(raw) for raw in self._all(paths.CREDIT_NOTES, {"invoice": invoice_id})]

    # --- payments and events ------------------------------------------------------------------

    def retrieve_payment_intent(self, payment_intent_id: str) -> StripePaymentIntent:
        return StripePaymentIntent.from_raw(self.call("GET", paths.path(paths.PAYMENT_INTENT, payment_intent_id)))

    def retrieve_charge(self, charge_id: str) -> StripeCharge:
        return StripeCharge.from_raw(self.call("GET", paths.path(paths.CHARGE, charge_id)))

    def retrieve_refund(self, refund_id: str) -> StripeRefund:
        return StripeRefund.from_raw(self.call("GET", paths.path(paths.REFUND, refund_id)))

    def retrieve_event(self, event_id: str) -> StripeEvent:
        return StripeEvent.from_raw(self.call("GET", paths.path(paths.EVENT, event_id)))


def _quoted(value: str) -> str:
    """A value inside a search query's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


# --- one place that builds a tenant's client (tests set how it waits) -------------------------

_options: dict[str, Any] = {}


@contextlib.contextmanager
def stripe_client_options(**options: Any) -> Iterator[None]:
    """Swap how clients built by `stripe_client` wait (sleep, limiter, policy) inside the block."""
    saved = dict(_options)
    _options.update(options)
    try:
        yield
    finally:
        _options.clear()
        _options.update(saved)


def stripe_client(tenant: Tenant) -> StripeBillingClient:
    connection = getattr(tenant, "stripeconnection", None)
    if connection is None or not connection.enabled:
        raise ConfigFailure(f"tenant {tenant.slug} has no enabled Stripe connection", system=SYSTEM)
    return StripeBillingClient(connection, **_options)
