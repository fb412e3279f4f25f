"""`manage.py demo` also serves the Stripe simulator, and within a minute the invoices of the
client firms the demo tenant bills through Stripe are finalized invoices there; then the
simulator pays some of them (one partly, one refunded) and the signed events become cash
receipts posted in the Vantagepoint simulator."""
from pathlib import Path

import httpx
import pytest

from billing.demo import STRIPE_CLIENT_CODES
from tests.demo_process import demo_running, poll


@pytest.mark.worker
def test_demo_finalizes_the_stripe_billed_firms_invoices_in_the_simulator(tmp_path: Path):
    with demo_running(tmp_path) as demo:
        stripe = demo.stripe

        def finalized():
            invoices = httpx.get(demo.url(stripe, "/_sandbox/objects/invoices")).json()
            # open, or already paid by the payments demo
            finalized = [i for i in invoices if i["status"] in ("open", "paid")]
            return finalized if len(finalized) >= 8 else None  # the seed's invoices of C00004-C00006

        invoices = poll(finalized, timeout=120, what="finalized invoices in the Stripe simulator")
        assert all(i["metadata"]["ml_tenant"] == "demo" and i["total"] > 0 for i in invoices)
        customers = httpx.get(demo.url(stripe, "/_sandbox/objects/customers")).json()
        assert sorted(c["metadata"].get("vp_client") for c in customers
                      if c["metadata"].get("ml_tenant") == "demo") == sorted(STRIPE_CLIENT_CODES)
        refused = httpx.get(demo.url(stripe, "/_sandbox/requests")).json()
        assert [r for r in refused if r["status"] and 400 <= r["status"] < 429] == []

        def receipts_posted():
            states = demo.documents_by_state("stripe-payment") or {}
            # a card payment, a partial one, a payment and its refund: four receipts
            return states if states.get("posted", 0) >= 4 else None

        states = poll(receipts_posted, timeout=180, what="the demo payments' cash receipts posted")
        assert states.get("failed", 0) == 0, states
    assert f"Stripe simulator: http://127.0.0.1:{stripe}/" in demo.output()
