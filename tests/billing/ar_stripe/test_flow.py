"""ar-stripe end to end through the simulators: customer, invoice, items, finalize."""
from __future__ import annotations

from decimal import Decimal

from billing.models import StripeCustomerMapping
from connector.models import DocumentState

from .conftest import documents, post_invoice, run_cycle


def test_a_posted_invoice_becomes_a_finalized_stripe_invoice(stripe_tenant, vp_sim, stripe_sim, billed):
    posted = post_invoice(vp_sim, billed, [("Design - labor", "12", "150.00"), ("Travel", "1", "412.37")])
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert document.state == DocumentState.SENT, document.last_error
    invoice = stripe_sim.get(document.external_ids["stripe_invoice_id"])
    assert invoice["status"] == "open"
    assert invoice["total"] == 12 * 15000 + 41237 == int(posted["Total"] * 100)
    assert invoice["currency"] == "usd"
    assert invoice["collection_method"] == "send_invoice"
    assert invoice["metadata"]["vp_invoice"] == posted["Invoice"]
    assert invoice["metadata"]["vp_period"] == str(posted["Period"])
    assert invoice["metadata"]["vp_post_seq"] == str(posted["PostSeq"])
    assert invoice["metadata"]["vp_project"] == posted["WBS1"]
    assert invoice["metadata"]["vp_client_id"] == billed["ClientID"]
    assert invoice["metadata"]["ml_tenant"] == stripe_tenant.slug
    assert invoice["metadata"]["ml_document"] == str(document.pk)
    customer = stripe_sim.get(invoice["customer"])
    assert (customer["name"], customer["email"]) == (billed["Name"], billed["Email"])
    assert customer["metadata"]["vp_client_id"] == billed["ClientID"]
    mapping = StripeCustomerMapping.objects.get(tenant=stripe_tenant)
    assert mapping.customer_id == customer["id"]
    assert document.reference == posted["Invoice"]
    assert document.counterparty == billed["Name"]
    assert document.amount == Decimal("2212.37")
    assert document.currency == "USD"
