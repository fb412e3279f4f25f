"""Where a receipt goes when the metadata is thin, what a refund still pending does, what the sweep
resumes, and what the document's page shows."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.payments.demo import stripe_invoice_create
from billing.payments.flow import STRIPE_PAYMENT
from connector.documents import document_receive
from connector.models import DocumentState, SyncRunStatus, Trigger
from connector.sync import sync_run_execute
from connector.vantagepoint.ar_invoices import ar_invoice_to_json
from tenants.models import Role
from tests.factories import make_user

from .conftest import cr_rows, documents, run_sent, vp_invoice

pytestmark = pytest.mark.django_db


def deliver_all(stripe_sim, sent_tasks) -> None:
    assert all(a.ok for a in stripe_sim.deliver_pending())
    run_sent(sent_tasks)


def test_an_invoice_naming_only_its_ar_stripe_document_is_matched_through_that_document(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    ar_document, _ = document_receive(tenant=tenant, flow="ar-stripe", external_key=invoice.key,
                                      raw=ar_invoice_to_json(invoice), source="Vantagepoint AR invoice")
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice, document_id=ar_document.pk)
    # The ar-stripe flow of an older release wrote only our own references.
    for key in ("vp_invoice", "vp_project", "vp_wbs2", "vp_wbs3", "vp_period", "vp_post_seq", "vp_client_id"):
        stripe_http.post(f"/v1/invoices/{opened['id']}", data={f"metadata[{key}]": ""}).raise_for_status()
    assert set(stripe_sim.get(opened["id"])["metadata"]) == {"ml_tenant", "ml_document"}
    stripe_sim.pay_invoice(opened["id"])
    deliver_all(stripe_sim, sent_tasks)

    assert [r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == [invoice.total]
    posted = next(d for d in documents(tenant) if d.state == DocumentState.POSTED)
    assert posted.mapped["target"]["found_by"] == f"ar-stripe document {ar_document.pk}"
    related = {r.what: r for r in posted_flow_related(posted)}
    assert related["AR invoice sent to Stripe"].url == reverse("admin:connector_document_change",
                                                                args=[ar_document.pk])
    assert opened["id"] in related["Stripe invoice"].url and "/test/" in related["Stripe invoice"].url


def posted_flow_related(document):
    from connector.flows import get_flow

    return get_flow(STRIPE_PAYMENT).related_records(document)


def test_a_pending_refund_is_posted_when_it_succeeds(tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim,
                                                     sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    refund = stripe_sim.refund_charge(charge["id"], amount=1000, pending=True)
    deliver_all(stripe_sim, sent_tasks)
    assert [r["RefNo"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == [charge["payment_intent"]]
    waiting = [d for d in documents(tenant) if d.mapped.get("event", {}).get("type") == "refund.created"]
    assert waiting[0].state == DocumentState.IGNORED and "is pending" in waiting[0].mapped["ignored"]

    stripe_sim.settle_refund(refund["id"])
    deliver_all(stripe_sim, sent_tasks)
    rows = {r["RefNo"]: r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)}
    assert rows == {charge["payment_intent"]: invoice.total, refund["id"]: Decimal("-10.00")}


def test_the_sweep_resumes_a_document_nobody_processed(tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim,
                                                       sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    stripe_sim.pay_invoice(opened["id"])
    assert all(a.ok for a in stripe_sim.deliver_pending())
    sent_tasks.clear()  # the broker lost every message
    assert {d.state for d in documents(tenant)} == {DocumentState.RECEIVED}

    run = sync_run_execute(tenant=tenant, flow_name=STRIPE_PAYMENT, trigger=Trigger.SCHEDULED, inline=True)
    assert run.status == SyncRunStatus.SUCCEEDED, run.error
    assert sorted(d.state for d in documents(tenant)) == [DocumentState.DUPLICATE, DocumentState.DUPLICATE,
                                                         DocumentState.POSTED]
    assert len(cr_rows(vp_sim, invoice=invoice.invoice)) == 1
    assert run.counts["posted"] == 1 and run.counts["duplicate"] == 2


def test_the_document_page_shows_the_receipt_the_ar_status_and_the_links(
        client, tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    stripe_sim.pay_invoice(opened["id"], amount=5000)
    deliver_all(stripe_sim, sent_tasks)
    (document,) = documents(tenant)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))

    page = client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    batch = cr_rows(vp_sim, invoice=invoice.invoice)[0]["Batch"]
    assert "partly paid" in page and batch in page and opened["number"] in page
    assert f"https://dashboard.stripe.com/test/invoices/{opened['id']}" in page
    listing = client.get(reverse("admin:connector_document_changelist") + f"?q={opened['id']}").content.decode()
    assert invoice.invoice in listing and "50.00" in listing, "found by the Stripe invoice id, with its business columns"


def test_a_connection_pinned_before_invoice_payments_existed_posts_the_same_receipts(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    """At API version 2024-06-20 the invoice names its payment and charge itself, a charge names
    its invoice, and `payments` cannot be expanded: the flow reads those instead."""
    from tenants.models import StripeConnection

    StripeConnection.objects.filter(tenant=tenant).update(api_version="2024-06-20")
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    first = stripe_sim.pay_invoice(opened["id"], amount=6000)
    second = stripe_sim.pay_invoice(opened["id"])
    deliver_all(stripe_sim, sent_tasks)

    rows = {r["RefNo"]: r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)}
    assert rows == {first["payment_intent"]: Decimal("60.00"), second["payment_intent"]: invoice.total - 60}
    assert {d.state for d in documents(tenant)} <= {DocumentState.POSTED, DocumentState.DUPLICATE}
    assert not [r for r in stripe_sim.requests_to(path_contains="/v1/") if r.status and r.status >= 400], \
        "no request the old version refuses"
