"""A simulated Stripe (the v1 API parts our flows use): the contract our Stripe client and the
payment flows are tested against, as strict and quirky as the real one.

    sim = StripeSimulator(frozen_clock=True)            # options: see StripeSimulator
    mount_transport("https://api.stripe.test", sim.transport())
    # ... our client creates a customer and a finalized invoice ...
    sim.pay_invoice(invoice_id, amount=5000)            # the customer pays part of it by card
    sim.add_webhook_endpoint(url, secret, transport=httpx.WSGITransport(app=django_app))
    sim.deliver_pending()                               # signed events to our endpoint
    sim.requests_to(path_contains="/v1/invoices")       # what our client sent

Served: `manage.py sandbox stripe --port PORT` (webhooks then deliver on their own, every
half second). Seeded with one account (`SANDBOX_ACCOUNT`, default API version 2024-06-20,
older than the SDK's on purpose) and its test key `SANDBOX_SECRET_KEY`.

What it enforces (each module says more): secret-key auth, Basic or Bearer (auth.py);
`Stripe-Version` known or refused, answers rendered per version (versions.py); form bodies
with nested keys and unknown parameters refused by name (forms.py); errors as
`{"error": {"type", "code", "message", "param"}}`; amounts in the currency's smallest unit,
zero-decimal currencies (JPY...) included (state.py); Idempotency-Key for 24 hours
(idempotency.py); a per-account rate limit, 25 requests/s by default like test mode,
answering 429 with `Stripe-Should-Retry`; faults: 500, 503, timeouts, a connection dropped
after the object was created; events for every change and signed webhook deliveries with
duplicate and out-of-order knobs (events.py, webhooks.py); search with a lag (search.py);
the inspection API (inspect.py). Imports nothing from connector/, edi/, billing/ or tenants/.
"""
from typing import Any

from sandbox.cleo.faults import FaultKind
from sandbox.cleo.limit import SLIDING_WINDOW, TOKEN_BUCKET

from .app import SANDBOX_ACCOUNT, SANDBOX_SECRET_KEY, RequestRecord, StripeSimulator
from .state import ZERO_DECIMAL, display_amount, mask_key
from .versions import BASIL, KNOWN_VERSIONS, LATEST
from .webhooks import DeliveryAttempt, Endpoint, signature_header

__all__ = [
    "BASIL", "KNOWN_VERSIONS", "LATEST", "SANDBOX_ACCOUNT", "SANDBOX_SECRET_KEY", "SLIDING_WINDOW", "TOKEN_BUCKET",
    "ZERO_DECIMAL", "DeliveryAttempt", "Endpoint", "FaultKind", "RequestRecord", "StripeSimulator", "create_app",
    "display_amount", "mask_key", "signature_header",
]


def create_app(**options: Any) -> StripeSimulator:
    """The entry point sandbox/servers.py calls: a served simulator delivers its webhooks by itself."""
    return StripeSimulator(**{"deliver_webhooks": True, **options})
