"""The payments demo, end to end in process: demo invoices in the Stripe simulator are paid (one by
card with its event delivered twice, one partly, one refunded with the refund delivered first),
the signed events go through our view, and the cash receipts land in the Vantagepoint simulator."""
from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import DeliveryOutcome, WebhookDelivery
from billing.payments.demo import demo_invoices_create, demo_open_invoices, payments_demo_run
from connector.clients import vantagepoint_client
from connector.models import DocumentState
from tests.billing.conftest import SECRET, webhook_url

from .conftest import cr_rows, documents, run_sent

pytestmark = pytest.mark.django_db


def test_the_demo_pays_its_invoices_and_their_receipts_reach_vantagepoint(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    with vantagepoint_client(tenant) as vp:
        made = demo_invoices_create(stripe_http, vp, tenant_slug=tenant.slug)
        assert len(made) == 3 and demo_invoices_create(stripe_http, vp, tenant_slug=tenant.slug) == [], \
            "seeded once: open invoices of the tenant are there now"
    assert len(demo_open_invoices(stripe_http, tenant_slug=tenant.slug)) == 3
    by_number = {i["number"]: i for i in made}

    done = payments_demo_run(stripe_http, endpoint_url=f"http://testserver{webhook_url(pay_endpoint)}", secret=SECRET,
                             tenant_slug=tenant.slug)
    assert [len(done[k]) for k in ("paid", "partly_paid", "refunded")] == [1, 1, 1], done
    assert WebhookDelivery.objects.filter(outcome=DeliveryOutcome.DUPLICATE).exists(), "one event came twice"
    order = [a.event_type for a in stripe_sim.deliveries()]
    last_payment = len(order) - 1 - order[::-1].index("charge.succeeded")
    assert order.index("refund.created") < last_payment, f"the refund was delivered before its payment: {order}"
    run_sent(sent_tasks)

    def receipts(number):
        vp_number = by_number[number]["metadata"]["vp_invoice"]
        return sorted(r["Amount"] for r in cr_rows(vp_sim, invoice=vp_number))

    def total(number):
        return Decimal(by_number[number]["total"]) / 100

    (paid,), (partly,), (refunded,) = done["paid"], done["partly_paid"], done["refunded"]
    assert receipts(paid) == [total(paid)], "paid by card: one receipt, though its event came twice"
    assert receipts(partly) == [Decimal(by_number[partly]["total"] // 2) / 100], "what was paid"
    assert receipts(refunded) == [-total(refunded), total(refunded)], "the payment, and the refund against it"
    states = {d.state for d in documents(tenant)}
    assert states <= {DocumentState.POSTED, DocumentState.DUPLICATE}, [
        (d.source, d.state, d.last_error) for d in documents(tenant)]
