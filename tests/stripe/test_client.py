"""Our Stripe client's helpers, through the simulator: typed returns, pinned version, call
records, pacing, and amounts in USD and JPY."""
from __future__ import annotations

from decimal import Decimal

import pytest
import stripe

from billing.stripe import (
    Address,
    CustomerDetails,
    InvoiceLine,
    StripeCustomer,
    StripeInvoice,
    minor_units,
    stripe_client,
    stripe_client_options,
    unit_amount_decimal,
)
from connector.failures import ConfigFailure, DataFailure
from connector.http import recording_calls
from sandbox.stripe import BASIL
from tests.stripe.conftest import make_client

pytestmark = pytest.mark.django_db

ACME = CustomerDetails(name="Acme Engineering", email="ap@acme.example",
                       address=Address(line1="1 Main St", city="Springfield", state="IL", postal_code="62701", country="US"),
                       metadata={"mlc_tenant": "acme", "vp_firm": "F-100"})


def bill(stripe_api, *, lines: list[InvoiceLine], currency: str = "usd", prefix: str = "acme:1001") -> StripeInvoice:
    """What the ar-stripe flow will do, step by step, each create under its own key."""
    customer = stripe_api.create_customer(ACME, idempotency_key=f"{prefix}:customer")
    invoice = stripe_api.create_invoice(customer_id=customer.id, currency=currency, days_until_due=30,
                                    metadata={"vp_invoice": "1001", "vp_project": "P-7"},
                                    idempotency_key=f"{prefix}:invoice")
    for n, line in enumerate(lines):
        stripe_api.add_invoice_item(invoice_id=invoice.id, customer_id=customer.id, line=line,
                                idempotency_key=f"{prefix}:line:{n}")
    return stripe_api.finalize_invoice(invoice.id, idempotency_key=f"{prefix}:finalize")


DESIGN = InvoiceLine("Design, March", quantity=Decimal("7.5"), unit_amount_decimal=Decimal("15000"))
FEE = InvoiceLine("Filing fee", amount=9999)


def test_customers_create_find_update_retrieve(stripe_api, sim):
    made = stripe_api.create_customer(ACME, idempotency_key="acme:F-100:customer")
    assert isinstance(made, StripeCustomer) and made.address.city == "Springfield"
    assert stripe_api.find_customer(metadata={"mlc_tenant": "acme", "vp_firm": "F-100"}) is None, "search lags writes"
    sim.advance(2)
    assert stripe_api.find_customer(metadata={"mlc_tenant": "acme", "vp_firm": "F-100"}).id == made.id
    assert stripe_api.find_customer(metadata={"mlc_tenant": "acme", "vp_firm": "F-999"}) is None
    moved = CustomerDetails(name="Acme Engineering LLP", email="billing@acme.example", address=Address(city="Chicago"),
                            metadata=ACME.metadata)
    updated = stripe_api.update_customer(made.id, moved)
    assert (updated.name, updated.email, updated.address.city, updated.address.line1) == \
        ("Acme Engineering LLP", "billing@acme.example", "Chicago", "")
    [event] = sim.events("customer.updated")
    assert set(event["data"]["previous_attributes"]) == {"name", "email", "address"}
    stripe_api.call("DELETE", f"/v1/customers/{made.id}")
    assert stripe_api.retrieve_customer(made.id).deleted is True


def test_two_customers_with_the_same_references_are_a_data_failure(stripe_api, sim):
    sim.add_customer(name="Acme", metadata={"vp_firm": "F-100"})
    sim.add_customer(name="Acme (dup)", metadata={"vp_firm": "F-100"})
    with pytest.raises(DataFailure, match="2 Stripe customers match"):
        stripe_api.find_customer(metadata={"vp_firm": "F-100"})


def test_invoice_items_finalize_and_read_back_with_payments(stripe_api, sim):
    invoice = bill(stripe_api, lines=[DESIGN, FEE])
    assert (invoice.status, invoice.total, invoice.collection_method, invoice.line_count) == \
        ("open", 112500 + 9999, "send_invoice", 2)
    assert invoice.number and invoice.hosted_invoice_url and invoice.due_date
    assert invoice.raw["auto_advance"] is True, "from here on Stripe emails and collects"
    assert sim.events("invoice.created")[0]["data"]["object"]["auto_advance"] is False, "the draft could not finalize itself"
    charge = sim.pay_invoice(invoice.id, amount=50000)
    read = stripe_api.retrieve_invoice(invoice.id)
    assert (read.amount_paid, read.amount_remaining, read.status) == (50000, 72499, "open")
    [payment] = read.payments
    assert (payment.amount_paid, payment.payment_intent) == (50000, charge["payment_intent"])
    assert stripe_api.list_invoice_payments(payment_intent_id=charge["payment_intent"])[0].invoice == invoice.id
    assert stripe_api.retrieve_payment_intent(charge["payment_intent"]).latest_charge == charge["id"]
    assert stripe_api.retrieve_charge(charge["id"]).amount == 50000
    refund = sim.refund_charge(charge["id"], amount=1000)
    assert stripe_api.retrieve_refund(refund["id"]).charge == charge["id"]
    event = sim.events("charge.refunded")[0]
    assert stripe_api.retrieve_event(event["id"]).object_id == charge["id"]


def test_list_and_find_invoices_read_every_page(stripe_api, sim):
    customer = stripe_api.create_customer(ACME, idempotency_key="c")
    for n in range(12):
        stripe_api.create_invoice(customer_id=customer.id, currency="usd", days_until_due=30,
                              metadata={"vp_invoice": str(1000 + n)}, idempotency_key=f"i{n}")
    assert len(stripe_api.list_invoices(customer_id=customer.id)) == 12, "Stripe answers 10 unless asked"
    assert stripe_api.find_invoice(customer_id=customer.id, metadata={"vp_invoice": "1000"}).metadata["vp_invoice"] == "1000"
    assert stripe_api.find_invoice(customer_id=customer.id, metadata={"vp_invoice": "999"}) is None


def test_every_line_is_read_even_past_the_ten_an_invoice_embeds(stripe_api):
    invoice = bill(stripe_api, lines=[InvoiceLine(f"Line {n}", amount=100 + n) for n in range(12)])
    assert invoice.line_count == 12 and len(invoice.raw["lines"]["data"]) == 10
    lines = stripe_api.list_invoice_lines(invoice.id)
    assert [(line.description, line.amount) for line in lines] == [(f"Line {n}", 100 + n) for n in range(12)]


def test_credit_note_and_void(stripe_api):
    invoice = bill(stripe_api, lines=[FEE])
    note = stripe_api.create_credit_note(invoice_id=invoice.id, amount=1999, reason="order_change",
                                     metadata={"vp_invoice": "1002"}, idempotency_key="acme:1002:credit_note")
    assert (note.type, note.amount, note.metadata) == ("pre_payment", 1999, {"vp_invoice": "1002"})
    assert [n.id for n in stripe_api.list_credit_notes(invoice_id=invoice.id)] == [note.id]
    assert stripe_api.void_invoice(invoice.id, idempotency_key="acme:1001:void").status == "void"


def test_every_request_the_client_makes_is_accepted_by_the_simulators_strict_checks(stripe_api, sim):
    hours = InvoiceLine("Hours", quantity=Decimal(3), unit_amount_decimal=Decimal("12.5"))
    invoice = bill(stripe_api, lines=[DESIGN, FEE, hours])
    customer_id = invoice.customer
    stripe_api.update_customer(customer_id, ACME, idempotency_key="acme:F-100:update")
    sim.advance(2)
    stripe_api.find_customer(metadata=ACME.metadata)
    stripe_api.retrieve_customer(customer_id)
    stripe_api.retrieve_invoice(invoice.id)
    stripe_api.retrieve_invoice(invoice.id, with_payments=False)
    stripe_api.list_invoices(customer_id=customer_id, status="open")
    stripe_api.list_invoice_lines(invoice.id)
    stripe_api.list_invoice_payments(invoice_id=invoice.id)
    stripe_api.create_credit_note(invoice_id=invoice.id, amount=100, memo="Rounding", idempotency_key="cn")
    stripe_api.list_credit_notes(invoice_id=invoice.id)
    stripe_api.account()
    stripe_api.void_invoice(invoice.id, idempotency_key="void")
    refused = [(r.method, r.path, r.status, r.error) for r in sim.requests if r.status != 200]
    assert refused == []
    posts = [r for r in sim.requests if r.method == "POST"]
    assert all(r.idempotency_key for r in posts)
    given = {"acme:1001:customer", "acme:1001:invoice", "acme:1001:line:0", "acme:1001:line:1", "acme:1001:line:2",
             "acme:1001:finalize", "acme:F-100:update", "cn", "void"}
    assert {r.idempotency_key for r in posts} == given, "the caller's keys, none invented"


def test_the_api_version_is_pinned_from_the_connection(connection, sim, sim_time):
    with make_client(connection, sim, sim_time) as default:
        default.account()
    connection.api_version = BASIL
    with make_client(connection, sim, sim_time) as pinned:
        pinned.account()
    assert [r.api_version for r in sim.requests] == [stripe.api_version, BASIL]


def test_every_call_is_recorded_for_the_attempt_without_query_or_body(stripe_api):
    with recording_calls() as calls:
        stripe_api.create_customer(ACME, idempotency_key="c")
        stripe_api.find_customer(metadata={"vp_firm": "F-100"})
    assert [(c.method, c.path, c.status) for c in calls] == [("POST", "/v1/customers", 200),
                                                            ("GET", "/v1/customers/search", 200)]


def test_requests_are_paced_under_the_limit(stripe_api, sim, sim_time):
    start = sim.clock.now()
    for _ in range(60):
        stripe_api.account()
    assert sim.rejected() == []
    assert sim.clock.now() - start >= 59 / 25, "60 requests took at least 2.4 simulated seconds"


@pytest.mark.parametrize(("currency", "lines", "expected_total"), [
    ("usd", [(Decimal("7.5"), Decimal("150.00")), (Decimal(1), Decimal("99.99")), (Decimal(2), Decimal("0.125"))],
     Decimal("7.5") * Decimal("150.00") + Decimal("99.99") + Decimal(2) * Decimal("0.125")),
    ("jpy", [(Decimal(3), Decimal("15000")), (Decimal(1), Decimal("1250"))], Decimal(46250)),
])
def test_amounts_match_the_decimal_invoice_to_the_smallest_unit(stripe_api, currency, lines, expected_total):
    items = [InvoiceLine(f"Line {n}", quantity=qty, unit_amount_decimal=unit_amount_decimal(price, currency, what=f"line {n}"))
             for n, (qty, price) in enumerate(lines)]
    invoice = bill(stripe_api, lines=items, currency=currency)
    assert invoice.currency == currency
    assert invoice.total == minor_units(expected_total, currency, what="total")


@pytest.mark.parametrize(("amount", "currency"), [(Decimal("12.345"), "usd"), (Decimal("12.5"), "jpy")])
def test_an_amount_that_is_not_a_whole_smallest_unit_is_a_data_failure_naming_the_line(amount, currency):
    with pytest.raises(DataFailure, match="invoice 1001 line 2"):
        minor_units(amount, currency, what="invoice 1001 line 2")


def test_a_tenants_client_comes_from_one_place(connection, sim, sim_time):
    from connector.http import mount_transport, unmount_transport
    from connector.ratelimit import LocalRateLimiter

    mount_transport(connection.api_base, sim.transport())
    try:
        with stripe_client_options(sleep=sim_time.sleep, limiter=LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)):
            with stripe_client(connection.tenant) as stripe_api:
                assert stripe_api.account().id == "acct_1SandboxEngLLC0"
    finally:
        unmount_transport(connection.api_base)
    connection.enabled = False
    connection.save()
    connection.tenant.refresh_from_db()
    with pytest.raises(ConfigFailure, match="no enabled Stripe connection"):
        stripe_client(connection.tenant)
