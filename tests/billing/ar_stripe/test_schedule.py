"""The ar-stripe flow has a cycle per tenant: its periodic task exists while the tenant's
Vantagepoint and Stripe connections are enabled, pauses when either is off, and a tick runs
the cycle and queues the documents for workers."""
from __future__ import annotations

from django_celery_beat.models import PeriodicTask

from billing.ar_stripe import AR_STRIPE
from connector.flows import get_flow
from connector.models import Document, DocumentState, FlowSchedule, SyncRun
from connector.schedules import schedules_ensure_for_tenant
from connector.tasks import run_flow
from tenants.models import StripeConnection

from .conftest import post_invoice


def test_the_flow_is_registered_on_the_ar_invoice_stream_with_its_own_cursor():
    flow = get_flow(AR_STRIPE)
    assert flow.cursor_name == "ar-stripe:vantagepoint:ar-invoices"
    assert flow.needs == ("vantagepointconnection", "stripeconnection")
    assert flow.step_names() == ["customer", "invoice"]


def test_a_tenant_with_both_connections_gets_a_schedule_paused_when_stripe_is_off(stripe_tenant):
    schedules_ensure_for_tenant(stripe_tenant)
    task = PeriodicTask.objects.get(name=f"{AR_STRIPE} for {stripe_tenant.slug}")
    assert task.enabled and task.task == "connector.run_flow"
    assert FlowSchedule.objects.get(tenant=stripe_tenant, flow=AR_STRIPE).periodic_task == task
    StripeConnection.objects.filter(tenant=stripe_tenant).update(enabled=False)
    stripe_tenant.refresh_from_db()
    schedules_ensure_for_tenant(stripe_tenant)
    task.refresh_from_db()
    assert not task.enabled


def test_a_scheduled_tick_runs_the_cycle_and_its_documents(stripe_tenant, vp_sim, stripe_sim, billed):
    post_invoice(vp_sim, billed)
    run_id = run_flow.apply(kwargs={"tenant_id": stripe_tenant.pk, "flow": AR_STRIPE}).get()
    run = SyncRun.objects.get(pk=run_id)
    assert run.flow == AR_STRIPE and run.counts.get("new") == 1
    [document] = Document.objects.filter(tenant=stripe_tenant, flow=AR_STRIPE)
    assert document.state == DocumentState.SENT, document.last_error
    assert stripe_sim.get(document.external_ids["stripe_invoice_id"])["status"] == "open"
