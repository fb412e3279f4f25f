"""Must show: amounts to the cent in USD and in a zero-decimal currency; a firm change updates
its customer; a revoked key parks documents as config failures naming the key. And the
business rules: duplicates, credit memos, firms without an email, firms not billed."""
from __future__ import annotations

import pytest

from billing.ar_stripe.customers import details_hash
from billing.models import StripeBilledClient, StripeBilling, StripeClients, StripeCustomerMapping
from connector.models import AuditEvent, Document, DocumentState, Trigger
from connector.pipeline import document_process
from sandbox.stripe import SANDBOX_SECRET_KEY

from .conftest import customers_in_stripe, documents, invoices_in_stripe, post_invoice, refused_requests, run_cycle


@pytest.mark.parametrize(("currency", "lines", "expected"), [
    ("usd", [("Design", "7", "185.00"), ("Travel", "1", "1234.56"), ("Partial hours", "2.5", "95.00"),
             ("Rounding credit", "1", "-0.01")], [129500, 123456, 23750, -1]),
    ("jpy", [("Design", "7", "18500"), ("Travel", "1", "123456"), ("Partial hours", "2.5", "9500")],
     [129500, 123456, 23750]),
])
def test_amounts_match_vantagepoint_to_the_smallest_unit(stripe_tenant, vp_sim, stripe_sim, billed, currency,
                                                         lines, expected):
    StripeBilling.objects.filter(tenant=stripe_tenant).update(currency=currency)
    posted = post_invoice(vp_sim, billed, lines)
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert document.state == DocumentState.SENT, document.last_error
    [invoice] = invoices_in_stripe(stripe_sim, stripe_tenant)
    assert invoice["currency"] == currency
    amounts = [line["amount"] for line in stripe_sim.get(invoice["id"])["lines"]["data"]]
    assert amounts == expected
    exponent = 0 if currency == "jpy" else 2
    assert invoice["total"] == int(posted["Total"].scaleb(exponent)) == sum(expected)
    assert document.amount == posted["Total"] and document.currency == currency.upper()
    assert refused_requests(stripe_sim) == []


def test_a_line_that_is_not_whole_cents_is_a_data_failure_naming_it(stripe_tenant, vp_sim, stripe_sim, billed):
    StripeBilling.objects.filter(tenant=stripe_tenant).update(currency="jpy")
    post_invoice(vp_sim, billed, [("Design", "1", "1000"), ("Fee", "1", "12.50")])
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert (document.state, document.failure_kind) == (DocumentState.FAILED, "data")
    assert "line 2 (Fee)" in document.last_error and "12.5 JPY" in document.last_error
    assert invoices_in_stripe(stripe_sim, stripe_tenant) == []


def test_a_firm_change_updates_its_stripe_customer_on_the_next_cycle(stripe_tenant, vp_sim, stripe_sim, billed):
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    [customer] = customers_in_stripe(stripe_sim, stripe_tenant)
    billed.update(Name="Harbor Builders Group", Email="billing@harbor.example", Address1="9 Quay Street")
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    assert [d.state for d in documents(stripe_tenant)] == [DocumentState.SENT] * 2
    [after] = customers_in_stripe(stripe_sim, stripe_tenant)
    assert after["id"] == customer["id"]
    assert (after["name"], after["email"], after["address"]["line1"]) == (
        "Harbor Builders Group", "billing@harbor.example", "9 Quay Street")
    mapping = StripeCustomerMapping.objects.get(tenant=stripe_tenant)
    assert mapping.client_name == "Harbor Builders Group" and mapping.details_hash
    updates = [r for r in stripe_sim.requests if r.method == "POST" and r.path == f"/v1/customers/{customer['id']}"]
    assert len(updates) == 1 and updates[0].idempotency_key
    second = stripe_sim.get(documents(stripe_tenant)[-1].external_ids["stripe_invoice_id"])
    assert second["customer_email"] == "billing@harbor.example"


def test_an_unchanged_firm_costs_no_customer_request(stripe_tenant, vp_sim, stripe_sim, billed):
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    stripe_sim.clear_requests()
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    assert [r for r in stripe_sim.requests if "/v1/customers" in r.path] == []


def test_a_revoked_key_parks_the_documents_as_config_failures_naming_the_key(stripe_tenant, vp_sim, stripe_sim,
                                                                            billed):
    post_invoice(vp_sim, billed)
    post_invoice(vp_sim, billed)
    stripe_sim.revoke_key(SANDBOX_SECRET_KEY)
    run_cycle(stripe_tenant)
    final = documents(stripe_tenant)
    assert [(d.state, d.failure_kind) for d in final] == [(DocumentState.FAILED, "config")] * 2
    for document in final:
        assert f"…{SANDBOX_SECRET_KEY[-4:]}" in document.last_error
        assert SANDBOX_SECRET_KEY not in document.last_error
        assert document.next_attempt_at is None
    assert SANDBOX_SECRET_KEY not in "".join(AuditEvent.objects.values_list("reason", flat=True))


def test_an_invoice_already_in_stripe_is_a_duplicate(stripe_tenant, vp_sim, stripe_sim, billed):
    posted = post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    [first] = documents(stripe_tenant)
    # Another installation (or a database restored from before) meets the same invoice again:
    # here the first document no longer holds the invoice's key, and the stream reads it anew.
    Document.objects.filter(pk=first.pk).update(external_key="moved-away")
    stripe_sim.advance(120)  # search sees the invoice once its lag has passed
    vp_sim.touch_invoice(posted["Invoice"], posted["Period"], posted["PostSeq"])
    run_cycle(stripe_tenant)
    second = documents(stripe_tenant)[-1]
    assert second.pk != first.pk
    assert second.state == DocumentState.DUPLICATE, second.last_error
    assert second.external_ids["duplicate_of"] == first.external_ids["stripe_invoice_id"]
    assert len(invoices_in_stripe(stripe_sim, stripe_tenant)) == 1


def test_a_credit_memo_becomes_a_credit_note_against_the_original(stripe_tenant, vp_sim, stripe_sim, billed):
    original = post_invoice(vp_sim, billed, [("Design", "10", "100.00")])
    run_cycle(stripe_tenant)
    post_invoice(vp_sim, billed, [("Credit: design hours", "-2", "100.00")], invoice=original["Invoice"])
    run_cycle(stripe_tenant)
    first, memo = documents(stripe_tenant)
    assert memo.state == DocumentState.SENT, memo.last_error
    [note] = stripe_sim.objects("credit_note")
    assert note["invoice"] == first.external_ids["stripe_invoice_id"] == memo.external_ids["stripe_invoice_id"]
    assert note["amount"] == 20000
    assert note["metadata"]["ml_document"] == str(memo.pk)
    assert stripe_sim.get(note["invoice"])["amount_remaining"] == 80000
    assert len(invoices_in_stripe(stripe_sim, stripe_tenant)) == 1


def test_a_credit_memo_without_its_original_waits_in_needs_mapping(stripe_tenant, vp_sim, stripe_sim, billed):
    post_invoice(vp_sim, billed, [("Credit", "-1", "50.00")], invoice="9999001")
    run_cycle(stripe_tenant)
    [memo] = documents(stripe_tenant)
    assert memo.state == DocumentState.NEEDS_MAPPING
    assert "original invoice 9999001 is not in Stripe" in memo.last_error
    assert stripe_sim.objects("credit_note") == []


def test_a_firm_without_a_billing_email_waits_with_the_reason(stripe_tenant, vp_sim, stripe_sim, billed):
    billed["Email"] = ""
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert document.state == DocumentState.NEEDS_MAPPING
    assert "has no billing email" in document.last_error and billed["Name"] in document.last_error
    billed["Email"] = "ap@harbor.example"
    document_process(document, trigger=Trigger.MANUAL)
    assert document.state == DocumentState.SENT, document.last_error


def test_firms_not_billed_through_stripe_are_ignored_with_the_reason(stripe_tenant, vp_sim, stripe_sim, billed):
    other = next(f for f in vp_sim.tables.firms if f["ClientInd"] == "Y" and f["ClientID"] != billed["ClientID"]
                 and any(p["BillingClientID"] == f["ClientID"] for p in vp_sim.tables.projects))
    post_invoice(vp_sim, other)
    run_cycle(stripe_tenant)
    [document] = documents(stripe_tenant)
    assert document.state == DocumentState.IGNORED
    event = AuditEvent.objects.filter(document=document).order_by("-pk").first()
    assert f"client {other['Client']} is not billed through Stripe" in event.reason
    assert stripe_sim.requests == []
    StripeBilling.objects.filter(tenant=stripe_tenant).update(clients=StripeClients.ALL)
    post_invoice(vp_sim, other)
    run_cycle(stripe_tenant)
    assert documents(stripe_tenant)[-1].state == DocumentState.SENT


def test_listed_by_client_code_and_with_its_own_currency(stripe_tenant, vp_sim, stripe_sim, billed):
    StripeBilledClient.objects.filter(billing__tenant=stripe_tenant).update(client_id=billed["Client"], currency="jpy")
    post_invoice(vp_sim, billed, [("Design", "3", "1000")])
    run_cycle(stripe_tenant)
    [invoice] = invoices_in_stripe(stripe_sim, stripe_tenant)
    assert (invoice["currency"], invoice["total"]) == ("jpy", 3000)


def test_details_hash_changes_with_what_stripe_shows(stripe_tenant, billed):
    from billing.ar_stripe.customers import customer_details
    from connector.vantagepoint.records import firm_from_row

    one = details_hash(customer_details(tenant_slug="t", firm=firm_from_row(billed)))
    assert one == details_hash(customer_details(tenant_slug="t", firm=firm_from_row(dict(billed))))
    assert one != details_hash(customer_details(tenant_slug="t", firm=firm_from_row({**billed, "City": "Salem"})))


def test_a_firm_change_reaches_stripe_on_the_next_cycle_without_a_new_invoice(stripe_tenant, vp_sim, stripe_sim,
                                                                              billed):
    post_invoice(vp_sim, billed)
    run_cycle(stripe_tenant)
    assert run_cycle(stripe_tenant).counts.get("customers_updated") is None  # nothing changed: no update
    billed.update(Email="accounts@harbor.example", City="Salem")
    run = run_cycle(stripe_tenant)
    assert run.counts["customers_updated"] == 1
    [customer] = customers_in_stripe(stripe_sim, stripe_tenant)
    assert (customer["email"], customer["address"]["city"]) == ("accounts@harbor.example", "Salem")
    assert len(documents(stripe_tenant)) == 1
