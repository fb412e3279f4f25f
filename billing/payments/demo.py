"""The payments part of the demo: the Stripe simulator's customers pay the demo invoices, and
the signed events go to the demo's webhook endpoint.

`payments_demo_run` needs only an HTTP client on the simulator (served, or in process through
its transport) with the sandbox key, and the endpoint's URL and secret. It finds the open
(finalized) invoices carrying ml_tenant metadata (the ar-stripe flow's, or those
`demo_invoices_create` made) and pays them: one by card with its charge.succeeded delivered
twice, one partly, one paid and then refunded with the refund delivered before the payment.
Within a minute the worker has posted their cash receipts in the Vantagepoint simulator.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from connector.vantagepoint import ARInvoice, VantagepointClient

from .payments import EVENT_TYPES

CARD = "pm_card_visa"
log = logging.getLogger(__name__)


def _form(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    return {f"{prefix}[{k}]": str(v) for k, v in values.items()}


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise RuntimeError(f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
                           f"{response.text[:300]}")
    return response.json()


def stripe_invoice_create(http: httpx.Client, *, tenant_slug: str, invoice: ARInvoice, currency: str = "usd",
                          document_id: int | None = None) -> dict[str, Any]:
    """A finalized Stripe invoice for a posted Vantagepoint invoice, with the metadata the
    ar-stripe flow writes (the demo's and the tests' stand-in for that flow)."""
    first = invoice.lines[0] if invoice.lines else None
    metadata = {"ml_tenant": tenant_slug, "vp_invoice": invoice.invoice, "vp_period": invoice.period,
                "vp_post_seq": invoice.post_seq, "vp_project": invoice.project,
                "vp_wbs2": (first.wbs2 if first else "").strip(), "vp_wbs3": (first.wbs3 if first else "").strip(),
                "vp_client_id": invoice.billing_client_id}
    if document_id is not None:
        metadata["ml_document"] = document_id
    key = uuid.uuid4().hex
    customer = _ok(http.post("/v1/customers", data={"name": f"Client {invoice.billing_client_id[:8]}",
                                                    "email": "ap@client.example",
                                                    **_form("metadata", {"ml_tenant": tenant_slug})},
                             headers={"Idempotency-Key": f"{key}-c"}))
    created = _ok(http.post("/v1/invoices", data={
        "customer": customer["id"], "currency": currency, "collection_method": "send_invoice", "days_until_due": "30",
        "auto_advance": "false", **_form("metadata", metadata)}, headers={"Idempotency-Key": f"{key}-i"}))
    cents = int((invoice.total * 100).to_integral_value())
    _ok(http.post("/v1/invoiceitems", data={"invoice": created["id"], "customer": customer["id"], "amount": str(cents),
                                            "currency": currency, "description": f"Invoice {invoice.invoice}"},
                  headers={"Idempotency-Key": f"{key}-l"}))
    return _ok(http.post(f"/v1/invoices/{created['id']}/finalize", data={"auto_advance": "false"},
                         headers={"Idempotency-Key": f"{key}-f"}))


def demo_invoices_create(http: httpx.Client, vp: VantagepointClient, *, tenant_slug: str,
                         count: int = 3) -> list[dict[str, Any]]:
    """Stripe invoices for the newest posted Vantagepoint invoices still open, unless the
    simulator already holds open invoices of this tenant."""
    if demo_open_invoices(http, tenant_slug=tenant_slug):
        return []
    page = vp.ar_invoices_since(None)
    made = []
    for invoice in reversed(page.invoices):
        balance = vp.ar_balance(invoice.invoice, wbs1=invoice.project)
        if balance is None or balance.paid_amount != 0 or balance.balance <= 1 or not invoice.lines:
            continue
        made.append(stripe_invoice_create(http, tenant_slug=tenant_slug, invoice=invoice))
        if len(made) >= count:
            break
    return made


def demo_open_invoices(http: httpx.Client, *, tenant_slug: str | None = None) -> list[dict[str, Any]]:
    """Finalized invoices still open whose metadata names a tenant (this one, if given)."""
    invoices = _ok(http.get("/_sandbox/objects/invoices"))
    return [i for i in invoices if i.get("status") == "open" and (i.get("metadata") or {}).get("ml_tenant")
            and (tenant_slug is None or i["metadata"]["ml_tenant"] == tenant_slug)]


def demo_webhook_endpoint_ensure(http: httpx.Client, *, url: str, secret: str) -> None:
    """The simulator sends our event types to `url`, signed with `secret` (once registered, kept)."""
    endpoints = _ok(http.get("/_sandbox/webhook_endpoints"))
    if not any(e.get("url") == url for e in endpoints):
        _ok(http.post("/_sandbox/webhook_endpoints", json={"url": url, "secret": secret, "events": list(EVENT_TYPES)}))


def payments_demo_run(http: httpx.Client, *, endpoint_url: str, secret: str, tenant_slug: str | None = None,
                      deliver: bool = True, payable: Callable[[dict[str, Any]], bool] | None = None,
                      ) -> dict[str, list[str]]:
    """Pay the open demo invoices (those `payable` accepts); returns what was done to which
    invoice. With `deliver`, the events are delivered now (a served simulator also delivers by
    itself every half second)."""
    demo_webhook_endpoint_ensure(http, url=endpoint_url, secret=secret)
    done: dict[str, list[str]] = {"paid": [], "partly_paid": [], "refunded": []}
    invoices = [i for i in demo_open_invoices(http, tenant_slug=tenant_slug) if payable is None or payable(i)]
    for n, invoice in enumerate(invoices):
        number = invoice.get("number") or invoice["id"]
        if n == 1 and invoice["amount_remaining"] >= 200:
            _pay(http, invoice["id"], amount=invoice["amount_remaining"] // 2)
            done["partly_paid"].append(number)
            continue
        if n == 2:
            # Out of order: the payment's events are held until after the refund's first event.
            for event_type in ("charge.succeeded", "invoice.paid", "invoice.payment_succeeded"):
                _ok(http.post("/_sandbox/webhooks/hold_next", json={"type": event_type}))
            charge = _pay(http, invoice["id"])
            _ok(http.post(f"/_sandbox/charges/{charge['id']}/refund", json={}))
            done["refunded"].append(number)
            continue
        if n == 0:
            _ok(http.post("/_sandbox/webhooks/duplicate_next", json={"type": "charge.succeeded"}))
        _pay(http, invoice["id"])
        done["paid"].append(number)
    if deliver:
        _ok(http.post("/_sandbox/webhooks/deliver"))
        _ok(http.post("/_sandbox/webhooks/release_held"))
        _ok(http.post("/_sandbox/webhooks/deliver"))
    return done


def _pay(http: httpx.Client, invoice_id: str, *, amount: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"payment_method": CARD, **({"amount": amount} if amount is not None else {})}
    return _ok(http.post(f"/_sandbox/invoices/{invoice_id}/pay", json=body))


# -- `make demo` ----------------------------------------------------------------------------------
DEMO_WEBHOOK_SECRET = os.environ.get("DEMO_STRIPE_WEBHOOK_SECRET", "whsec_demoPaymentsEndpointSecret0001")
DEMO_ENDPOINT = "Demo: Stripe simulator"


def payments_demo_seed(tenant, plan, *, stripe_url: str) -> None:
    """Payments' part of billing's demo seeder (billing/demo.py, which serves the Stripe
    simulator at `stripe_url` and connects the tenant to it): the webhook endpoint with a known
    secret and, once everything is up, invoices paid and their events delivered."""
    from billing.models import WebhookEndpoint, WebhookSecret

    endpoint, _ = WebhookEndpoint.objects.get_or_create(tenant=tenant, description=DEMO_ENDPOINT)
    if not endpoint.secrets.exists():
        WebhookSecret.objects.create(endpoint=endpoint, secret=DEMO_WEBHOOK_SECRET)
    # In the background: the ar-stripe flow's first cycle (queued by the hook before this one)
    # is what makes the invoices to pay, and the demo's start must not wait for it.
    plan.after_start.append(lambda: threading.Thread(target=_demo_payments, args=(tenant, endpoint, stripe_url),
                                                     name="payments-demo", daemon=True).start())
    plan.notes.append(f"Stripe payments: the simulator pays the open demo invoices (one partly, one refunded) and "
                      f"posts signed events to {webhook_path(endpoint)}; their cash receipts appear in the "
                      "Vantagepoint simulator's CR ledger within a minute.")


def webhook_path(endpoint) -> str:
    from django.urls import reverse

    return reverse("billing:stripe-webhook", kwargs={"endpoint_key": str(endpoint.uuid)})


def _demo_payments(tenant, endpoint, stripe_url: str) -> None:
    from connector.clients import vantagepoint_client
    from sandbox.stripe import SANDBOX_SECRET_KEY

    url = f"http://127.0.0.1:{os.environ.get('DEMO_WEB_PORT', '8000')}{webhook_path(endpoint)}"
    try:
        with httpx.Client(base_url=stripe_url, auth=(SANDBOX_SECRET_KEY, ""),
                          timeout=30) as http, vantagepoint_client(tenant) as vp:
            _ar_stripe_invoices_wait(http, tenant_slug=tenant.slug, payable=lambda invoice: _project_active(vp, invoice))
            demo_invoices_create(http, vp, tenant_slug=tenant.slug)  # only when ar-stripe made none
            payments_demo_run(http, endpoint_url=url, secret=DEMO_WEBHOOK_SECRET, tenant_slug=tenant.slug,
                              deliver=False,  # the served simulator delivers by itself
                              payable=lambda invoice: _project_active(vp, invoice))
    except Exception as exc:  # noqa: BLE001 - the rest of the demo runs on; say why this part did not
        log.warning("the payments demo could not pay the demo invoices: %s: %s", type(exc).__name__, exc)


# How long the payments demo waits for the ar-stripe flow's invoices before making its own.
AR_STRIPE_WAIT_SECONDS = 90


def _ar_stripe_invoices_wait(http: httpx.Client, *, tenant_slug: str, payable: Callable[[dict[str, Any]], bool],
                             wanted: int = 3) -> None:
    """Poll the simulator until the demo's ar-stripe cycle has finalized `wanted` payable
    invoices (or the wait is over: the payments demo then pays what it makes itself)."""
    deadline = time.monotonic() + AR_STRIPE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if sum(1 for invoice in demo_open_invoices(http, tenant_slug=tenant_slug) if payable(invoice)) >= wanted:
            return
        time.sleep(2)


def _project_active(vp: VantagepointClient, invoice: dict[str, Any]) -> bool:
    """Vantagepoint takes no receipt on an inactive project (the seed has one): the demo pays
    the invoices of active projects, so each payment it makes ends in a receipt."""
    project = vp.project(invoice["metadata"].get("vp_project", ""))
    return project is not None and project.active
