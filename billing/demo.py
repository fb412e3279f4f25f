"""What `make demo` seeds for billing, in one seeder: the served Stripe simulator and the
demo tenant's Stripe connection to it (owned here, for both flows), then each flow's part:
- ar-stripe: a few client firms billed through Stripe and a first cycle as soon as everything
  is up (then beat runs it every 30 seconds): within a minute those firms' posted invoices
  are finalized invoices in the simulator (see /_sandbox/objects/invoices);
- payments (billing/payments/demo.py): its webhook endpoint and its after-start step, which
  pays those invoices and lets the simulator deliver the signed events.

Run through connector.demo's seeder registry, after edi's (which sets up Vantagepoint).
"""
from __future__ import annotations

import os
import sys

from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connector.demo import DemoPlan
from connector.models import FlowSchedule
from connector.schedules import schedules_ensure_for_tenant
from sandbox import stripe as stripe_sandbox
from tenants.models import StripeConnection, Tenant

from .ar_stripe import AR_STRIPE
from .models import StripeBilledClient, StripeBilling, StripeClients
from .payments.demo import payments_demo_seed

DEFAULT_STRIPE_PORT = 8103
DEMO_CYCLE_SECONDS = 30
SERVE_STRIPE = ("import sys; from sandbox.servers import create_simulator, serve; "
                "print(f'stripe simulator on http://127.0.0.1:{sys.argv[1]}/', flush=True); "
                "serve(create_simulator('stripe'), port=int(sys.argv[1])).serve_forever()")
# Client codes of the Vantagepoint simulator's seed billed through Stripe (ar-810 bills C00001-3).
STRIPE_CLIENT_CODES = ("C00004", "C00005", "C00006")


def stripe_demo_port() -> int:
    """Where the demo serves the Stripe simulator (DEMO_STRIPE_PORT, read when the demo seeds)."""
    value = os.environ.get("DEMO_STRIPE_PORT", str(DEFAULT_STRIPE_PORT))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"DEMO_STRIPE_PORT must be a port number, not {value!r}") from None


def billing_demo_seed(tenant: Tenant, plan: DemoPlan) -> None:
    """The one billing seeder: the simulator and the connection, then ar-stripe's part, then
    payments' (whose after-start step pays the invoices ar-stripe's first cycle makes)."""
    stripe_url = _stripe_simulator_serve(plan)
    StripeConnection.objects.update_or_create(tenant=tenant, defaults=dict(
        enabled=True, secret_key=stripe_sandbox.SANDBOX_SECRET_KEY, api_base=stripe_url))
    _ar_stripe_seed(tenant, plan)
    payments_demo_seed(tenant, plan, stripe_url=stripe_url)


def _stripe_simulator_serve(plan: DemoPlan) -> str:
    """What `manage.py sandbox stripe --port` serves, without starting Django and its checks in
    one more process while the admin, the worker and beat start (the demo's first minute)."""
    port = stripe_demo_port()
    plan.processes["stripe-sim"] = [sys.executable, "-c", SERVE_STRIPE, str(port)]
    plan.wait_for_ports.append(port)
    plan.notes.append(f"Stripe simulator: http://127.0.0.1:{port}/ (invoices: /_sandbox/objects/invoices)")
    return f"http://127.0.0.1:{port}"


def _ar_stripe_seed(tenant: Tenant, plan: DemoPlan) -> None:
    billing, _ = StripeBilling.objects.get_or_create(tenant=tenant, defaults={"clients": StripeClients.LISTED,
                                                                              "currency": "usd"})
    for code in STRIPE_CLIENT_CODES:
        StripeBilledClient.objects.get_or_create(billing=billing, client_id=code)
    tenant.refresh_from_db()
    schedules_ensure_for_tenant(tenant)
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=DEMO_CYCLE_SECONDS, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(flow_schedule__in=FlowSchedule.objects.filter(tenant=tenant, flow=AR_STRIPE)).update(
        interval=every_30s)
    plan.after_start.append(lambda: _first_cycle(tenant))
    plan.notes.append(f"ar-stripe sends the invoices of clients {', '.join(STRIPE_CLIENT_CODES)} to Stripe as "
                      "finalized invoices; other clients' invoices are ignored, saying why (Billing › Stripe "
                      "billing chooses).")


def _first_cycle(tenant: Tenant) -> None:
    from connector.tasks import run_flow

    run_flow.delay(tenant.pk, AR_STRIPE)
