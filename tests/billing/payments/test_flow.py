"""Stripe events to cash receipts, end to end in process: the Stripe simulator pays, refunds and
delivers signed events to our view (real HMAC); the view's queued processing runs here; the
receipts land in the Vantagepoint simulator, and each test reads them there."""
from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import WebhookDelivery
from billing.payments.demo import stripe_invoice_create
from connector.models import DocumentState, EffectState
from tests.billing.conftest import deliver, signature_header
from tests.billing.events import event_body, invoice_paid_event

from .conftest import ar_balance, cr_rows, documents, run_sent, vp_invoice

pytestmark = pytest.mark.django_db


def stripe_invoice(stripe_http, tenant, invoice, **kwargs):
    return stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice, **kwargs)

PAYMENT_EVENTS = ("charge.succeeded", "invoice.paid", "invoice.payment_succeeded")


def refunded_with_payment_events_held(vp_sim, stripe_sim, stripe_http, tenant):
    """An invoice paid in full and refunded, the payment's events held back by the simulator so
    the next delivery sends the refund's first: (Vantagepoint invoice, charge, refund)."""
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice(stripe_http, tenant, invoice)
    for event_type in PAYMENT_EVENTS:
        stripe_sim.hold_next(event_type)
    charge = stripe_sim.pay_invoice(opened["id"])
    return invoice, charge, stripe_sim.refund_charge(charge["id"])

def paid_then_refunded_25(vp_sim, stripe_sim, stripe_http, tenant, sent_tasks):
    """An invoice paid in full, its payment's events delivered and processed, then 25.00 of it
    refunded (the refund's events not delivered yet): (Vantagepoint invoice, charge, refund)."""
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice(stripe_http, tenant, invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    deliver_all(stripe_sim, sent_tasks)
    return invoice, charge, stripe_sim.refund_charge(charge["id"], amount=2500)


def deliver_all(stripe_sim, sent_tasks) -> None:
    attempts = stripe_sim.deliver_pending()
    assert attempts and all(a.ok for a in attempts), [(a.event_type, a.status, a.error) for a in attempts]
    run_sent(sent_tasks)


def test_a_paid_invoice_becomes_one_cash_receipt_on_its_project_whatever_the_number_of_events(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    stripe_invoice(stripe_http, tenant, invoice)
    opened = stripe_sim.objects("invoice")[0]
    charge = stripe_sim.pay_invoice(opened["id"])
    deliver_all(stripe_sim, sent_tasks)

    types = sorted(d.event.type for d in WebhookDelivery.objects.select_related("event"))
    assert types == ["charge.succeeded", "invoice.paid", "invoice.payment_succeeded"], \
        "the simulator sent every event type the flow acts on, through our view"
    rows = cr_rows(vp_sim, invoice=invoice.invoice)
    assert len(rows) == 1, "three events about one payment: one receipt"
    row = rows[0]
    assert (row["RefNo"], row["WBS1"], row["Amount"]) == (charge["payment_intent"], invoice.project, invoice.total)
    assert (row["WBS2"].strip(), row["WBS3"].strip()) == (invoice.lines[0].wbs2.strip(), invoice.lines[0].wbs3.strip())
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("0.00")

    states = sorted(d.state for d in documents(tenant))
    assert states == [DocumentState.DUPLICATE, DocumentState.DUPLICATE, DocumentState.POSTED]
    posted = next(d for d in documents(tenant) if d.state == DocumentState.POSTED)
    assert posted.external_ids["ar_status"] == "paid" and posted.external_ids["ar_balance"] == "0.00"
    assert (posted.reference, posted.amount, posted.currency) == (invoice.invoice, invoice.total, "USD")
    assert "paid" in posted.artifact and row["Batch"] in posted.artifact
    for duplicate in (d for d in documents(tenant) if d.state == DocumentState.DUPLICATE):
        assert charge["payment_intent"] in duplicate.audit_events.latest("at").reason
        assert not duplicate.effects.exclude(state=EffectState.INTENDED).exists(), "nothing was posted by it"


def test_a_partial_payment_posts_what_was_paid_and_the_invoice_reads_partly_paid(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice(stripe_http, tenant, invoice)
    stripe_sim.pay_invoice(opened["id"], amount=5000)
    deliver_all(stripe_sim, sent_tasks)

    rows = cr_rows(vp_sim, invoice=invoice.invoice)
    assert [r["Amount"] for r in rows] == [Decimal("50.00")]
    assert ar_balance(vp_sim, invoice)["Balance"] == invoice.total - Decimal("50.00")
    (document,) = documents(tenant)
    assert document.mapped["event"]["type"] == "charge.succeeded"
    assert document.state == DocumentState.POSTED and document.external_ids["ar_status"] == "partly paid"

    remaining = stripe_sim.get(opened["id"])["amount_remaining"]
    stripe_sim.pay_invoice(opened["id"])
    deliver_all(stripe_sim, sent_tasks)
    amounts = sorted(r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice))
    assert amounts == sorted([Decimal("50.00"), Decimal(remaining) / 100]), "the rest, once"
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("0.00")


def test_a_refund_posts_a_negative_receipt_after_its_payment(tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim,
                                                           sent_tasks):
    invoice, charge, refund = paid_then_refunded_25(vp_sim, stripe_sim, stripe_http, tenant, sent_tasks)
    deliver_all(stripe_sim, sent_tasks)

    rows = {r["RefNo"]: r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)}
    assert rows == {charge["payment_intent"]: invoice.total, refund["id"]: Decimal("-25.00")}
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("25.00")


def test_a_refund_delivered_before_its_payment_waits_for_it_and_ends_as_in_order(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice, charge, refund = refunded_with_payment_events_held(vp_sim, stripe_sim, stripe_http, tenant)

    attempts = stripe_sim.deliver_pending()
    order = [a.event_type for a in attempts]
    assert order.index("refund.created") < order.index("charge.succeeded"), order
    # The refund's document alone first: the payment's events are on their way.
    refund_document = next(d for d in WebhookDelivery.objects.select_related("event__document")
                           if d.event.type == "refund.created").event.document
    name, kwargs = next(t for t in sent_tasks if t[1]["document_id"] == refund_document.pk)
    sent_tasks.remove((name, kwargs))
    from connector.celery import app
    app.tasks[name].apply(kwargs=kwargs).get()
    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.RETRYING
    assert f"waits for the receipt of payment {charge['payment_intent']}" in refund_document.last_error
    assert refund_document.external_ids["waits_for"] == charge["payment_intent"]
    assert cr_rows(vp_sim, invoice=invoice.invoice) == [], "no negative receipt before its payment"

    run_sent(sent_tasks)  # the payment's receipt posts, and wakes the refund waiting for it
    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.POSTED, refund_document.last_error
    assert "waits_for" not in refund_document.external_ids
    rows = {r["RefNo"]: r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)}
    assert rows == {charge["payment_intent"]: invoice.total, refund["id"]: -invoice.total}
    assert ar_balance(vp_sim, invoice)["Balance"] == invoice.total, "the same end state as in order"
    assert refund_document.external_ids["ar_status"] == "unpaid"


def test_a_receipt_already_in_vantagepoint_makes_a_duplicate_and_nothing_is_posted(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice(stripe_http, tenant, invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    # Someone entered the receipt by hand in Vantagepoint, with the payment as its reference.
    from connector.clients import vantagepoint_client
    from connector.vantagepoint import CashReceiptBatch, CashReceiptEntry, CashReceiptLine
    line = CashReceiptLine(wbs1=invoice.project, wbs2=invoice.lines[0].wbs2, wbs3=invoice.lines[0].wbs3,
                           invoice=invoice.invoice, amount=invoice.total)
    with vantagepoint_client(tenant) as vp:
        vp.post_cash_receipt_batch(CashReceiptBatch(name="BYHAND1", period=invoice.period, receipts=(
            CashReceiptEntry(ref_no=charge["payment_intent"], trans_date=invoice.invoice_date, lines=(line,)),)))
    deliver_all(stripe_sim, sent_tasks)

    assert [r["Batch"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == ["BYHAND1"]
    assert {d.state for d in documents(tenant)} == {DocumentState.DUPLICATE}
    document = documents(tenant)[0]
    assert "BYHAND1" in document.audit_events.latest("at").reason
    assert not vp_sim.requests_to("/DataEntry/crControl")[1:], "only the hand-made batch was ever entered"


def test_an_event_for_an_invoice_not_ours_is_ignored_with_the_reason(tenant, pay_endpoint, stripe_sim, stripe_http,
                                                                    vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    before = len(cr_rows(vp_sim))
    theirs = stripe_invoice_create(stripe_http, tenant_slug="someone-else", invoice=invoice)
    customer = stripe_sim.add_customer(name="Walk-in")
    plain = stripe_http.post("/v1/invoices", data={"customer": customer["id"], "collection_method": "send_invoice",
                                                   "days_until_due": "30"}).json()
    stripe_http.post("/v1/invoiceitems", data={"invoice": plain["id"], "customer": customer["id"], "amount": "7000",
                                               "currency": "usd"}).raise_for_status()
    stripe_http.post(f"/v1/invoices/{plain['id']}/finalize").raise_for_status()
    stripe_sim.pay_invoice(theirs["id"])
    stripe_sim.pay_invoice(plain["id"])
    deliver_all(stripe_sim, sent_tasks)

    assert len(cr_rows(vp_sim)) == before, "nothing posted"
    reasons = {d.mapped["ignored"] for d in documents(tenant)}
    assert {d.state for d in documents(tenant)} == {DocumentState.IGNORED}
    assert any("belongs to tenant 'someone-else'" in r for r in reasons)
    assert any("carries no ml_tenant metadata" in r for r in reasons)
    assert all(d.audit_events.latest("at").reason in reasons for d in documents(tenant))


def test_an_event_for_a_deleted_invoice_is_a_clear_data_failure(tenant, pay_endpoint, stripe_http, client,
                                                              sent_tasks):
    customer = stripe_http.post("/v1/customers", data={"name": "Gone"}).json()
    draft = stripe_http.post("/v1/invoices", data={"customer": customer["id"]}).json()
    stripe_http.delete(f"/v1/invoices/{draft['id']}").raise_for_status()
    body = event_body(invoice_paid_event("evt_for_a_deleted_invoice", invoice_id=draft["id"]))
    response = deliver(client, pay_endpoint, body, signature_header(body, "whsec_Test5ECRETvalue0123456789abcd"))
    assert response.status_code == 200
    run_sent(sent_tasks)

    (document,) = documents(tenant)
    assert document.state == DocumentState.FAILED and document.failure_kind == "data"
    assert f"invoice {draft['id']} of event invoice.paid evt_for_a_deleted_invoice is not in Stripe" \
        in document.last_error
    assert document.step == "fetch", "a replay starts again by re-fetching"


def test_a_refund_that_gave_up_waiting_is_posted_when_its_payment_arrives_at_last(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    from connector.celery import app
    from connector.models import Trigger
    from connector.replay import document_replay
    from connector.retry import RETRY_SCHEDULE

    invoice, charge, refund = refunded_with_payment_events_held(vp_sim, stripe_sim, stripe_http, tenant)
    stripe_sim.deliver_pending()
    refund_document = next(d for d in documents(tenant) if d.mapped == {} and "refund.created" in d.source)
    item = next(t for t in sent_tasks if t[1]["document_id"] == refund_document.pk)
    sent_tasks.remove(item)
    app.tasks[item[0]].apply(kwargs=item[1]).get()
    refund_document.refresh_from_db()
    refund_document.retry_count = len(RETRY_SCHEDULE)  # a day of retries went by
    refund_document.save(update_fields=["retry_count"])
    document_replay(refund_document, user=None, trigger=Trigger.RETRY)
    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.FAILED and "gave up" in refund_document.audit_events.latest(
        "at").reason

    run_sent(sent_tasks)  # the payment's events, days late
    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.POSTED, refund_document.last_error
    rows = {r["RefNo"]: r["Amount"] for r in cr_rows(vp_sim, invoice=invoice.invoice)}
    assert rows == {charge["payment_intent"]: invoice.total, refund["id"]: -invoice.total}
