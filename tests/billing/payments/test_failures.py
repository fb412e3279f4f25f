"""What a payment that cannot be posted says, and that it goes through once the cause is fixed."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from billing.payments.demo import stripe_invoice_create
from connector.models import DocumentState, EffectState
from connector.replay import document_replay

from .conftest import cr_rows, documents, run_sent, vp_invoice

pytestmark = pytest.mark.django_db


def test_a_closed_period_fails_the_receipt_as_data_saying_so_and_a_replay_posts_it_once_opened(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    today = datetime.fromtimestamp(stripe_sim.clock.now(), ZoneInfo(tenant.time_zone)).date()
    period = today.year * 100 + today.month  # the payment's day, in the tenant's zone
    vp_sim.close_period(period)
    stripe_sim.pay_invoice(opened["id"], amount=4000)  # a partial payment: one event
    assert all(a.ok for a in stripe_sim.deliver_pending())
    run_sent(sent_tasks)

    (document,) = documents(tenant)
    assert document.state == DocumentState.FAILED and document.failure_kind == "data"
    assert f"Period {period} is closed" in document.last_error and "crControl refused" in document.last_error
    assert document.step == "post" and document.effects.get().state == EffectState.INTENDED, \
        "Vantagepoint said no: nothing may have posted"
    assert cr_rows(vp_sim, invoice=invoice.invoice) == []

    vp_sim.open_period(period)
    document_replay(document, user=None)
    document.refresh_from_db()
    assert document.state == DocumentState.POSTED, document.last_error
    assert [r["Period"] for r in cr_rows(vp_sim, invoice=invoice.invoice)] == [period]


def test_a_revoked_stripe_key_parks_the_document_naming_the_key_by_its_last_four_only(
        tenant, pay_endpoint, stripe_sim, stripe_http, vp_sim, sent_tasks):
    from sandbox.stripe import SANDBOX_SECRET_KEY

    invoice = vp_invoice(vp_sim, tenant)
    opened = stripe_invoice_create(stripe_http, tenant_slug=tenant.slug, invoice=invoice)
    stripe_sim.pay_invoice(opened["id"], amount=4000)
    stripe_sim.revoke_key(SANDBOX_SECRET_KEY)
    assert all(a.ok for a in stripe_sim.deliver_pending())
    run_sent(sent_tasks)

    (document,) = documents(tenant)
    assert document.state == DocumentState.FAILED and document.failure_kind == "config"
    assert f"…{SANDBOX_SECRET_KEY[-4:]}" in document.last_error
    shown = document.last_error + "".join(a.reason for a in document.audit_events.all()) + \
        "".join(a.error + a.traceback for a in document.attempts.all())
    assert SANDBOX_SECRET_KEY not in shown and SANDBOX_SECRET_KEY[:20] not in shown
