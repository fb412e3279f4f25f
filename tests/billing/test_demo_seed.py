"""Billing's demo is one seeder: it serves the Stripe simulator and connects the demo tenant to
it once, for both flows; ar-stripe and payments only add their own steps."""
from __future__ import annotations

import threading

import pytest

from billing import demo as billing_demo
from billing.models import WebhookEndpoint
from billing.payments import demo as payments_demo
from connector import demo as connector_demo
from connector.demo import DemoPlan
from tenants.models import StripeConnection
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def test_one_seeder_serves_the_simulator_and_connects_the_tenant_for_both_flows(monkeypatch):
    monkeypatch.setenv("DEMO_STRIPE_PORT", "8993")
    paid_from: list[str] = []
    monkeypatch.setattr(payments_demo, "_demo_payments", lambda tenant, endpoint, url: paid_from.append(url))
    started: list[str] = []
    monkeypatch.setattr(billing_demo, "_first_cycle", lambda tenant: started.append("ar-stripe first cycle"))
    billing_seeders = [s for _, s in connector_demo._seeders if s.__module__.startswith("billing")]
    assert billing_seeders == [billing_demo.billing_demo_seed], "one billing seeder"

    tenant, plan = make_tenant(), DemoPlan()
    billing_demo.billing_demo_seed(tenant, plan)

    assert list(plan.processes) == ["stripe-sim"] and plan.processes["stripe-sim"][-1] == "8993"
    assert plan.wait_for_ports == [8993]
    assert StripeConnection.objects.get(tenant=tenant).api_base == "http://127.0.0.1:8993"
    assert WebhookEndpoint.objects.filter(tenant=tenant, description=payments_demo.DEMO_ENDPOINT).count() == 1
    assert sum("Stripe simulator: http://127.0.0.1:8993/" in note for note in plan.notes) == 1

    for step in plan.after_start:
        step()
    for thread in [t for t in threading.enumerate() if t.name == "payments-demo"]:
        thread.join(timeout=10)  # payments' step runs in the background
    assert started == ["ar-stripe first cycle"], "ar-stripe's step first: it makes the invoices payments pays"
    assert paid_from == ["http://127.0.0.1:8993"], "payments pays on the simulator the seeder serves"

    billing_demo.billing_demo_seed(tenant, DemoPlan())  # every start seeds again: nothing doubles
    assert StripeConnection.objects.filter(tenant=tenant).count() == 1
    assert WebhookEndpoint.objects.filter(tenant=tenant).count() == 1


def test_a_bad_demo_stripe_port_is_named(monkeypatch):
    monkeypatch.setenv("DEMO_STRIPE_PORT", "eighty")
    with pytest.raises(ValueError, match="DEMO_STRIPE_PORT must be a port number, not 'eighty'"):
        billing_demo.billing_demo_seed(make_tenant(), DemoPlan())
