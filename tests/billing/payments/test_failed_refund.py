"""A refund that fails after it succeeded (Stripe: succeeded -> failed, told by refund.updated,
refund.failed and charge.refund.updated): its receipt is reversed in Vantagepoint once, and a
refund that failed before its receipt was posted posts nothing, whichever order things happen."""
from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import WebhookDelivery
from billing.payments.payments import reversal_reference
from connector.celery import app as celery_app
from connector.models import DocumentState, EffectState

from .conftest import ar_balance, cr_rows, documents
from .test_flow import deliver_all, paid_then_refunded_25, refunded_with_payment_events_held

pytestmark = pytest.mark.django_db

FAILURE_EVENTS = {"refund.updated", "refund.failed", "charge.refund.updated"}


def _documents_of(*event_types: str):
    return [d.event.document for d in WebhookDelivery.objects.select_related("event__document")
            if d.event and d.event.type in event_types and d.event.document]


def test_a_refund_that_fails_after_its_receipt_was_posted_is_reversed_once(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice, charge, refund = paid_then_refunded_25(vp_sim, stripe_sim, stripe_http, tenant, sent_tasks)
    deliver_all(stripe_sim, sent_tasks)
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("25.00")

    stripe_sim.fail_refund(refund["id"], "lost_or_stolen_card")
    deliver_all(stripe_sim, sent_tasks)

    rows = [(r["RefNo"], r["Amount"]) for r in cr_rows(vp_sim, invoice=invoice.invoice)]
    reversal = reversal_reference(refund["id"])
    assert sorted(rows) == sorted([(charge["payment_intent"], invoice.total), (refund["id"], Decimal("-25.00")),
                                   (reversal, Decimal("25.00"))]), "three events about one failure: one reversal"
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("0.00"), "paid again: the refund never reached the card"

    told = _documents_of(*FAILURE_EVENTS)
    assert len(told) == 3
    assert sorted(d.state for d in told) == [DocumentState.DUPLICATE, DocumentState.DUPLICATE, DocumentState.POSTED]
    posted = next(d for d in told if d.state == DocumentState.POSTED)
    outcome = posted.mapped["receipts"][reversal]
    assert outcome["outcome"] == "posted" and outcome["amount"] == "25.00"
    assert f"reverses the receipt of failed refund {refund['id']}" in posted.artifact
    assert posted.external_ids["ar_status"] == "paid"
    effect = posted.effects.get(name=f"receipt:{reversal}")
    assert effect.state == EffectState.CONFIRMED and effect.calls == 1
    [batch_row] = [r for r in cr_rows(vp_sim, invoice=invoice.invoice) if r["RefNo"] == reversal]
    assert effect.key == batch_row["Batch"]

    assert stripe_sim.deliver_pending() == []  # nothing new; processing every document again posts nothing more
    for document in documents(tenant):
        celery_app.tasks["connector.process_document"].apply(
            kwargs={"document_id": document.pk, "trigger": "manual", "user_id": None}).get()
    assert len(cr_rows(vp_sim, invoice=invoice.invoice)) == 3


def test_a_refund_that_failed_before_anything_was_posted_posts_nothing(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice, charge, refund = paid_then_refunded_25(vp_sim, stripe_sim, stripe_http, tenant, sent_tasks)
    stripe_sim.fail_refund(refund["id"])  # before its refund.created was processed
    deliver_all(stripe_sim, sent_tasks)

    assert [r["RefNo"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == [charge["payment_intent"]]
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("0.00")
    told = _documents_of("refund.created", *FAILURE_EVENTS)
    assert len(told) == 4, "refund.created and the three events of its failure"
    for document in told:
        assert document.state == DocumentState.IGNORED, (document.source, document.last_error)
        assert f"refund {refund['id']} failed before its receipt was posted" in document.audit_events.latest("at").reason
        assert "none posted" in document.artifact


def test_a_refund_waiting_for_its_payment_that_fails_meanwhile_posts_nothing_and_reverses_nothing(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice, charge, refund = refunded_with_payment_events_held(vp_sim, stripe_sim, stripe_http, tenant)
    stripe_sim.deliver_pending()  # the payment's events after the refund's
    refund_document = _documents_of("refund.created")[0]
    item = next(t for t in sent_tasks if t[1]["document_id"] == refund_document.pk)
    sent_tasks.remove(item)
    celery_app.tasks[item[0]].apply(kwargs=item[1]).get()
    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.RETRYING, "read as succeeded, waiting for its payment's receipt"
    assert refund_document.mapped["movements"][0]["kind"] == "refund"

    stripe_sim.fail_refund(refund["id"])  # the payment's documents have not run yet
    deliver_all(stripe_sim, sent_tasks)  # they post the payment and wake the refund, which finds it failed

    refund_document.refresh_from_db()
    assert refund_document.state == DocumentState.IGNORED, refund_document.last_error
    assert "failed at Stripe (expired_or_canceled_card) before its receipt was posted" in \
        refund_document.audit_events.latest("at").reason
    assert [r["RefNo"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == [charge["payment_intent"]]
    assert ar_balance(vp_sim, invoice)["Balance"] == Decimal("0.00")
    told = _documents_of(*FAILURE_EVENTS)
    assert len(told) == 3, "the three events of the refund's failure"
    for document in told:
        assert document.state == DocumentState.IGNORED and "nothing to reverse" in document.artifact
