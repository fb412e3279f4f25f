"""Must show: every create carries an Idempotency-Key, and a crash after a create and before
its commit (a lost answer, or the worker killed) leaves one customer and one invoice after
the retry; 429 and 5xx storms change nothing in the end state; every request the flow makes
passes the simulator's strict checks."""
from __future__ import annotations

import pytest

from billing.stripe import StripeBillingClient
from connector.models import DocumentState, Effect, EffectState, Trigger
from connector.pipeline import document_process
from sandbox.stripe import FaultKind

from .conftest import (
    customers_in_stripe,
    documents,
    invoices_in_stripe,
    post_invoice,
    refused_requests,
    run_cycle,
    settle,
)

CREATES = ("/v1/customers", "/v1/invoices", "/v1/invoiceitems", "/finalize", "/v1/credit_notes")


def _assert_one_each(stripe_sim, tenant, posted_total_cents: int) -> None:
    [document] = documents(tenant)
    assert document.state == DocumentState.SENT, document.last_error
    [customer] = customers_in_stripe(stripe_sim, tenant)
    [invoice] = invoices_in_stripe(stripe_sim, tenant)
    assert invoice["customer"] == customer["id"]
    assert invoice["status"] == "open"
    assert invoice["total"] == posted_total_cents
    assert invoice["lines"]["total_count"] == 2
    assert len([i for i in stripe_sim.objects("invoiceitem") if i["invoice"] == invoice["id"]]) == 2


def test_every_create_carries_an_idempotency_key_and_every_request_passes_the_strict_checks(
        stripe_tenant, vp_sim, stripe_sim, billed):
    post_invoice(vp_sim, billed, [("Design", "3", "100.00"), ("Survey", "2", "50.25")])
    run_cycle(stripe_tenant)
    posts = [r for r in stripe_sim.requests if r.method == "POST"]
    assert {p.path.rsplit("/", 1)[-1] for p in posts} >= {"customers", "invoices", "invoiceitems", "finalize"}
    assert all(p.idempotency_key and p.idempotency_key.startswith(f"mlc-{stripe_tenant.slug}-") for p in posts)
    assert len({p.idempotency_key for p in posts}) == len(posts)
    assert refused_requests(stripe_sim) == []
    assert all(r.status == 200 for r in stripe_sim.requests)


@pytest.mark.parametrize("path", ["/v1/customers", "/v1/invoices", "/v1/invoiceitems", "/finalize"])
def test_a_connection_dropped_after_a_create_leaves_one_customer_and_one_invoice(
        stripe_tenant, vp_sim, stripe_sim, billed, path):
    posted = post_invoice(vp_sim, billed, [("Design", "3", "100.00"), ("Survey", "2", "50.25")])
    stripe_sim.fail_next(FaultKind.DROP_AFTER_PROCESSING, method="POST", path_contains=path)
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert document.state == DocumentState.RETRYING, document.last_error
    assert "may have been processed" in document.last_error
    assert Effect.objects.filter(document=document, state=EffectState.UNKNOWN).count() == 1
    settle(stripe_tenant)
    _assert_one_each(stripe_sim, stripe_tenant, int(posted["Total"] * 100))
    assert refused_requests(stripe_sim) == []


class WorkerKilled(BaseException):
    """The process dies: nothing after this point runs, nothing after it is committed."""


@pytest.mark.parametrize("method", ["create_customer", "create_invoice", "add_invoice_item", "finalize_invoice"])
def test_a_worker_killed_after_the_create_and_before_the_commit_leaves_one_of_each(
        stripe_tenant, vp_sim, stripe_sim, billed, monkeypatch, method):
    posted = post_invoice(vp_sim, billed, [("Design", "3", "100.00"), ("Survey", "2", "50.25")])
    real = getattr(StripeBillingClient, method)

    def create_then_die(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(StripeBillingClient, method, create_then_die)
    with pytest.raises(WorkerKilled):
        run_cycle(stripe_tenant)
    monkeypatch.setattr(StripeBillingClient, method, real)
    [document] = documents(stripe_tenant)
    assert document.state in (DocumentState.RECEIVED, DocumentState.MAPPED)  # nothing of the step committed
    assert Effect.objects.filter(document=document, state=EffectState.UNKNOWN).count() == 1
    document_process(document, trigger=Trigger.RETRY)
    _assert_one_each(stripe_sim, stripe_tenant, int(posted["Total"] * 100))
    replayed_or_looked = Effect.objects.filter(document=document, confirmed_by="look").count() + sum(
        1 for r in stripe_sim.requests if r.replayed)
    assert replayed_or_looked >= 1


def test_429_and_5xx_storms_change_nothing_in_the_end_state(stripe_tenant, vp_sim, stripe_sim, billed):
    totals = [post_invoice(vp_sim, billed, [("Design", str(n), "100.00"), ("Survey", "2", "50.25")])["Total"]
              for n in range(1, 4)]
    stripe_sim.set_rate_limit(3)  # our pacing thinks 25/s: most requests meet a 429
    for kind, path in [("503", "/v1/invoices"), ("500", "/v1/invoiceitems"), ("500", "/v1/customers"),
                       ("500", "/finalize"), ("503", "/v1/customers")]:
        stripe_sim.fail_next(kind, path_contains=path, times=3)
    run_cycle(stripe_tenant)
    final = settle(stripe_tenant, rounds=40)
    assert [d.state for d in final] == [DocumentState.SENT] * 3, [d.last_error for d in final]
    assert len(stripe_sim.rejected(status=429)) > 0
    assert len(customers_in_stripe(stripe_sim, stripe_tenant)) == 1
    invoices = invoices_in_stripe(stripe_sim, stripe_tenant)
    assert sorted(i["total"] for i in invoices) == sorted(int(t * 100) for t in totals)
    assert all(i["status"] == "open" and i["lines"]["total_count"] == 2 for i in invoices)
    assert len(stripe_sim.objects("invoiceitem")) == 6
    assert [r for r in refused_requests(stripe_sim)] == []
