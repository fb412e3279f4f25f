"""The control API of StripeSimulator: what tests (and the demo, through inspect.py) use to
set the stage, act as the customer or as Stripe, and read what happened.

Changes made here behave like changes made in Stripe's dashboard: they go through the same
handlers, make the same events (with no request id), and are seen by webhooks.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import httpx

from sandbox.cleo.faults import Fault, FaultKind
from sandbox.cleo.limit import PathLimit

from . import customers, payments
from .context import Call
from .state import ACTIVE, EXPIRED, REVOKED, Account, ApiKey, Ledger
from .versions import LATEST, render
from .webhooks import DeliveryAttempt, Endpoint, Rule

if TYPE_CHECKING:
    from .app import RequestRecord
    from .idempotency import IdempotencyStore
    from .state import IdMaker
    from .webhooks import Webhooks


class ControlMixin:
    lock: threading.RLock
    clock: Any
    ids: IdMaker
    limit: PathLimit
    accounts: dict[str, Account]
    keys: dict[str, ApiKey]
    ledgers: dict[tuple[str, bool], Ledger]
    idempotency: IdempotencyStore
    requests: list[RequestRecord]
    faults: list[Fault]
    webhooks: Webhooks
    versions: frozenset[str]
    tick: Callable[[], None]  # StripeSimulator's: what Stripe does as time passes

    # --- accounts and keys -------------------------------------------------------------------

    def add_account(self, account_id: str | None = None, *, name: str = "Sandbox account", email: str = "",
                    country: str = "US", default_currency: str = "usd", api_version: str = "2024-06-20") -> Account:
        with self.lock:
            account = Account(account_id or self.ids.new("acct_"), name, email or f"billing@{name.split()[0].lower()}.example",
                              country, default_currency, api_version)
            self.accounts[account.id] = account
            for live in (False, True):
                self.ledgers[(account.id, live)] = Ledger(account, live)
            return account

    def _account(self, account: str | None) -> Account:
        return self.accounts[account] if account else next(iter(self.accounts.values()))

    def add_key(self, secret: str | None = None, *, account: str | None = None, live: bool = False,
                restricted: dict[str, str] | None = None) -> str:
        """A new secret key (`sk_test_`, `sk_live_`, or `rk_...` with `restricted` permissions); returns it."""
        owner = self._account(account)
        prefix = ("rk_" if restricted is not None else "sk_") + ("live_" if live else "test_")
        secret = secret or self.ids.secret(prefix + "51", 96)
        with self.lock:
            self.keys[secret] = ApiKey(secret, owner.id, live, ACTIVE, restricted)
        return secret

    def revoke_key(self, secret: str) -> None:
        """Deleted in the dashboard: from now on 'Invalid API Key provided'."""
        with self.lock:
            self.keys[secret].state = REVOKED

    def expire_key(self, secret: str) -> None:
        """Rolled, and the old key's grace period is over: 'Expired API Key provided'."""
        with self.lock:
            self.keys[secret].state = EXPIRED

    def ledger(self, *, account: str | None = None, live: bool = False) -> Ledger:
        return self.ledgers[(self._account(account).id, live)]

    def _call(self, account: str | None = None, live: bool = False) -> Call:
        ledger = self.ledger(account=account, live=live)
        return Call(ledger, ledger.account.api_version, int(self.clock.now()))

    # --- time, limits, faults ----------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the simulated clock (idempotency keys expire, drafts auto-finalize, search catches up)."""
        with self.lock:
            self.clock.advance(seconds)
        self.tick()

    def fail_next(self, kind: FaultKind | str, *, method: str | None = None, path_contains: str | None = None,
                  times: int = 1) -> Fault:
        """Arm a fault (500, 503, timeout, drop, timeout_after_processing, drop_after_processing)
        for the next `times` requests matching method and path fragment."""
        fault = Fault(FaultKind(kind), method, path_contains, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def set_rate_limit(self, per_second: float | None, algorithm: str | None = None) -> None:
        with self.lock:
            self.limit = PathLimit(per_second, algorithm or self.limit.algorithm)

    # --- objects ------------------------------------------------------------------------------

    def objects(self, kind: str, *, account: str | None = None, live: bool = False) -> list[dict[str, Any]]:
        """Every object of a kind ("customer", "invoice", "charge" ...), newest first, as the newest API version shows them."""
        with self.lock:
            ledger = self.ledger(account=account, live=live)
            return [render(ledger, o, LATEST) for o in ledger.all(kind) if o["id"] not in ledger.deleted]

    def get(self, object_id: str, *, account: str | None = None, live: bool = False) -> dict[str, Any]:
        with self.lock:
            ledger = self.ledger(account=account, live=live)
            return render(ledger, ledger.objects[object_id], LATEST)

    def add_customer(self, *, account: str | None = None, **fields: Any) -> dict[str, Any]:
        """A customer made in the dashboard, long enough ago for search to see it."""
        with self.lock:
            call = self._call(account)
            customer = customers.create(self, call, fields)
            call.ledger.searchable_at[customer["id"]] = 0
            return render(call.ledger, customer, LATEST)

    # --- acting as the customer, or as Stripe -------------------------------------------------

    def pay_invoice(self, invoice_id: str, *, amount: int | None = None, payment_method: str = "pm_card_visa",
                    account: str | None = None, live: bool = False) -> dict[str, Any]:
        """The customer pays (part of) an open invoice by card; returns the charge."""
        with self.lock:
            call = self._call(account, live)
            invoice = call.ledger.get("invoice", invoice_id)
            charge = payments.pay(self, call, invoice, invoice["amount_remaining"] if amount is None else amount,
                                  payment_method)
            return render(call.ledger, charge, LATEST)

    def refund_charge(self, charge_id: str, *, amount: int | None = None, pending: bool = False,
                      account: str | None = None, live: bool = False) -> dict[str, Any]:
        """Refund (part of) a charge from the dashboard; `pending=True` leaves it to `settle_refund`."""
        with self.lock:
            call = self._call(account, live)
            charge = call.ledger.get("charge", charge_id)
            made = payments.refund(self, call, charge, amount, status="pending" if pending else "succeeded")
            return render(call.ledger, made, LATEST)

    def settle_refund(self, refund_id: str, status: str = "succeeded", *, account: str | None = None,
                      live: bool = False) -> dict[str, Any]:
        with self.lock:
            call = self._call(account, live)
            return render(call.ledger, payments.settle_refund(self, call, refund_id, status), LATEST)

    def fail_refund(self, refund_id: str, failure_reason: str = payments.REFUND_FAILURE_DEFAULT, *,
                    account: str | None = None, live: bool = False) -> dict[str, Any]:
        """A succeeded refund fails after the fact (refund.updated, refund.failed, charge.refund.updated)."""
        with self.lock:
            call = self._call(account, live)
            return render(call.ledger, payments.fail_refund(self, call, refund_id, failure_reason), LATEST)

    # --- events and webhooks ------------------------------------------------------------------

    def events(self, event_type: str | None = None, *, account: str | None = None,
               live: bool = False) -> list[dict[str, Any]]:
        """Events made so far, oldest first (the order they happened in)."""
        with self.lock:
            ledger = self.ledger(account=account, live=live)
            found = [e for e in ledger.all("event") if event_type is None or e["type"] == event_type]
            return [render(ledger, e, e["api_version"]) for e in reversed(found)]

    def add_webhook_endpoint(self, url: str, secret: str | None = None, *, events: Iterable[str] = ("*",),
                             api_version: str | None = None, transport: httpx.BaseTransport | None = None,
                             account: str | None = None, live: bool = False) -> Endpoint:
        """Register where events go. `secret` defaults to a new `whsec_...` (read it from the
        returned endpoint); `transport` sends in process (httpx.WSGITransport over our app)."""
        if api_version is not None and api_version not in self.versions:
            raise ValueError(f"unknown API version {api_version!r}")
        endpoint = Endpoint(self.ids.new("we_"), url, secret or self.ids.secret("whsec_", 32),
                            self._account(account).id, live, tuple(events), api_version, transport)
        with self.lock:
            return self.webhooks.add_endpoint(endpoint)

    def duplicate_next(self, event_type: str | None = None, *, times: int = 1) -> None:
        """The next `times` events of that type (any, if None) are delivered twice."""
        with self.lock:
            self.webhooks.duplicate_rules.append(Rule(event_type, times))

    def hold_next(self, event_type: str | None = None, *, times: int = 1) -> None:
        """The next `times` events of that type are delivered only after a later event."""
        with self.lock:
            self.webhooks.hold_rules.append(Rule(event_type, times))

    def deliver_pending(self) -> list[DeliveryAttempt]:
        return self.webhooks.deliver_pending()

    def deliveries(self) -> list[DeliveryAttempt]:
        with self.lock:
            return list(self.webhooks.attempts)

    # --- requests received --------------------------------------------------------------------

    def requests_to(self, *, path_contains: str = "", method: str | None = None) -> list[RequestRecord]:
        with self.lock:
            return [r for r in self.requests
                    if path_contains in r.path and (method is None or r.method == method.upper())]

    def rejected(self, *, status: int = 429) -> list[RequestRecord]:
        """Requests answered with `status` (429: rate limited)."""
        with self.lock:
            return [r for r in self.requests if r.status == status]

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()
