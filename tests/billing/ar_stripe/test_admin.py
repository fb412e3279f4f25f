"""The ar-stripe admin: a finance admin chooses the firms billed through Stripe, sees each
firm's Stripe customer with a link to Stripe's dashboard, and reads a document with its
Stripe ids linked and the requests it made. Tenant-scoped; the secret key on no page."""
from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import StripeBilledClient, StripeBilling, StripeClients, StripeCustomerMapping
from sandbox.stripe import SANDBOX_SECRET_KEY
from tenants.models import Role
from tests.factories import make_tenant, make_user

from .conftest import documents, post_invoice, run_cycle

pytestmark = pytest.mark.django_db


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    assert SANDBOX_SECRET_KEY not in html and SANDBOX_SECRET_KEY[8:] not in html
    return html


def test_a_finance_admin_chooses_the_firms_billed_through_stripe(client):
    tenant = make_tenant("Alpha LLP", slug="alpha")
    client.force_login(make_user("fin", tenant=tenant, role=Role.FINANCE_ADMIN))
    response = client.post(reverse("admin:billing_stripebilling_add"), {
        "tenant": tenant.pk, "clients": StripeClients.LISTED, "currency": "jpy", "days_until_due": "",
        "listed-TOTAL_FORMS": 1, "listed-INITIAL_FORMS": 0,
        "listed-0-client_id": "C00042", "listed-0-name": "Harbor Builders", "listed-0-currency": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    billing = StripeBilling.objects.get(tenant=tenant)
    assert (billing.clients, billing.currency) == ("listed", "jpy")
    assert [c.client_id for c in StripeBilledClient.objects.filter(billing=billing)] == ["C00042"]
    assert "Harbor Builders" in page(client, reverse("admin:billing_stripebilling_change", args=[billing.pk]))


def test_customer_mappings_link_to_the_dashboard_and_stay_in_their_tenant(client):
    mine, theirs = make_tenant(slug="mine"), make_tenant(slug="theirs")
    ours = StripeCustomerMapping.objects.create(tenant=mine, client_id="A1", client_name="Harbor Builders",
                                                customer_id="cus_TestHarbor0001")
    other = StripeCustomerMapping.objects.create(tenant=theirs, client_id="B1", client_name="Other Firm",
                                                 customer_id="cus_LiveOther00001", livemode=True)
    client.force_login(make_user(tenant=mine, role=Role.FINANCE_ADMIN))
    html = page(client, reverse("admin:billing_stripecustomermapping_changelist"))
    assert 'href="https://dashboard.stripe.com/test/customers/cus_TestHarbor0001"' in html
    assert "Other Firm" not in html
    assert client.get(reverse("admin:billing_stripecustomermapping_change", args=[other.pk])).status_code == 404
    assert "cus_TestHarbor0001" in page(client, reverse("admin:billing_stripecustomermapping_change", args=[ours.pk]))


def test_a_document_shows_its_stripe_ids_linked_and_the_requests_made(client, stripe_tenant, vp_sim, stripe_sim,
                                                                      billed):
    posted = post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    client.force_login(make_user(tenant=stripe_tenant, role=Role.FINANCE_ADMIN))
    html = page(client, reverse("admin:connector_document_change", args=[document.pk]))
    ids = document.external_ids
    assert f"https://dashboard.stripe.com/test/invoices/{ids['stripe_invoice_id']}" in html
    assert f"https://dashboard.stripe.com/test/customers/{ids['stripe_customer_id']}" in html
    assert ids["stripe_invoice_number"] in html
    for call in ("/v1/customers", "/v1/invoices", "/v1/invoiceitems", f"/v1/invoices/{ids['stripe_invoice_id']}/finalize"):
        assert call in html, call
    listing = page(client, reverse("admin:connector_document_changelist") + f"?q={ids['stripe_invoice_id']}")
    assert posted["Invoice"] in listing and billed["Name"] in listing
