"""What a delivery does to the money: 50 concurrent deliveries of one real event (signed with the
endpoint's secret, over HTTP into a live server) make one event, one document and one receipt;
a failed document is replayed from the delivery ledger's page and posts its receipt."""
from __future__ import annotations

import json
import threading

import pytest
from django.urls import reverse

from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEvent
from billing.payments.demo import stripe_invoice_create
from connector.models import Document, DocumentState
from tenants.models import Role, VantagepointConnection
from tests.billing.conftest import SECRET, post_signed, webhook_url
from tests.billing.events import signature_header
from tests.factories import make_user

from .conftest import ar_balance, cr_rows, documents, run_sent, vp_invoice

DELIVERIES = 50


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_deliveries_of_one_invoice_paid_event_make_one_event_and_one_receipt(
        roomy_live_server, tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    event = stripe_sim.events("invoice.paid")[-1]
    body = json.dumps(event, indent=2).encode()
    signature = signature_header(body, SECRET)
    url = roomy_live_server + webhook_url(pay_endpoint)
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver_once() -> None:
        start.wait()
        statuses.append(post_signed(url, body, signature))

    threads = [threading.Thread(target=deliver_once) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * DELIVERIES
    outcomes = sorted(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes == [DeliveryOutcome.ACCEPTED] + [DeliveryOutcome.DUPLICATE] * (DELIVERIES - 1)
    assert WebhookEvent.objects.get().stripe_id == event["id"]

    run_sent(sent_tasks)
    (document,) = documents(tenant)
    assert document.state == DocumentState.POSTED, document.last_error
    rows = cr_rows(vp_sim, invoice=invoice.invoice)
    assert [(r["RefNo"], r["Amount"]) for r in rows] == [(charge["payment_intent"], invoice.total)], "one receipt"
    assert len(vp_sim.requests_to("/DataEntry/PostTransFile")) == 1, "posted once"
    assert ar_balance(vp_sim, invoice)["Balance"] == 0


@pytest.mark.django_db
def test_a_failed_document_replayed_from_the_delivery_ledger_posts_its_receipt(
        client, tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    VantagepointConnection.objects.filter(tenant=tenant).update(enabled=False)
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    stripe_sim.pay_invoice(opened["id"])
    for attempt in stripe_sim.deliver_pending():
        assert attempt.ok
    run_sent(sent_tasks)
    assert {d.state for d in documents(tenant)} == {DocumentState.FAILED}, "its three events all failed"
    document = Document.objects.get(tenant=tenant, source__startswith="Stripe charge.succeeded")
    assert document.failure_kind == "config" and "no enabled Vantagepoint connection" in document.last_error
    assert document.step == "match" and cr_rows(vp_sim, invoice=invoice.invoice) == []

    VantagepointConnection.objects.filter(tenant=tenant).update(enabled=True)
    delivery = WebhookDelivery.objects.get(event__document=document)
    client.force_login(make_user("sam", tenant=tenant, role=Role.SUPPORT))
    page = client.get(reverse("admin:billing_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "Replay processing" in page
    url = reverse("admin:billing_webhookdelivery_actions", args=[delivery.pk, "replay_processing"])
    assert client.post(url, {"confirm": "yes"}).status_code == 302
    run_sent(sent_tasks)

    document.refresh_from_db()
    assert document.state == DocumentState.POSTED, document.last_error
    assert len(cr_rows(vp_sim, invoice=invoice.invoice)) == 1
    assert document.audit_events.filter(action="replay", actor="sam").exists(), "resumed for the user who asked"
    assert document.attempts.filter(step="fetch").count() == 1, "resumed at match, not from scratch"


@pytest.mark.django_db(transaction=True)
def test_three_events_of_one_payment_processed_at_the_same_moment_make_one_receipt(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    """invoice.paid, invoice.payment_succeeded and charge.succeeded in three workers at once, all
    past their look in the CR ledger before any receipt exists: Vantagepoint's refusal of a second
    batch of the payment's batch name leaves one receipt."""
    from django.db import connection

    from connector.celery import app as celery_app

    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    assert all(a.ok for a in stripe_sim.deliver_pending())
    work = list(sent_tasks)
    sent_tasks.clear()
    assert len(work) == 3
    together = threading.Barrier(len(work), timeout=30)

    def all_at_the_create():
        try:
            together.wait()
        except threading.BrokenBarrierError:
            pass

    vp_sim.faults.call(all_at_the_create, path="/DataEntry/crControl", method="POST", times=len(work))
    errors: list[BaseException] = []

    def process(name, kwargs) -> None:
        try:
            celery_app.tasks[name].apply(kwargs=kwargs).get()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=process, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not together.broken, "all three reached the create together"

    rows = cr_rows(vp_sim, invoice=invoice.invoice)
    assert [(r["RefNo"], r["Amount"]) for r in rows] == [(charge["payment_intent"], invoice.total)], "one receipt"
    states = sorted(d.state for d in documents(tenant))
    assert states == [DocumentState.DUPLICATE, DocumentState.DUPLICATE, DocumentState.POSTED], \
        [(d.source, d.state, d.last_error) for d in documents(tenant)]
