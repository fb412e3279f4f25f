"""Payments, refunds, invoice payments and events in the simulator (what the payment flow reads)."""
from __future__ import annotations

import pytest

from tests.stripe.test_sim_billing import ok, open_invoice, refused


def types(sim) -> list[str]:
    return [e["type"] for e in sim.events()]


def test_a_card_payment_pays_the_invoice_through_an_invoice_payment(api, sim):
    iid = open_invoice(api)
    before = len(sim.events())
    charge = sim.pay_invoice(iid)
    assert types(sim)[before:] == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
                                   "invoice_payment.paid", "invoice.paid", "invoice.payment_succeeded"]
    invoice = ok(api.get(f"/v1/invoices/{iid}", params={"expand[]": "payments.data.payment.payment_intent"}))
    assert (invoice["status"], invoice["amount_paid"], invoice["amount_remaining"]) == ("paid", 10000, 0)
    [payment] = invoice["payments"]["data"]
    assert payment["payment"]["type"] == "payment_intent"
    assert payment["payment"]["payment_intent"]["latest_charge"] == charge["id"]
    assert charge["status"] == "succeeded" and charge["paid"] and charge["amount"] == 10000
    found = ok(api.get("/v1/invoice_payments", params={"payment[type]": "payment_intent",
                                                       "payment[payment_intent]": charge["payment_intent"]}))
    assert [p["invoice"] for p in found["data"]] == [iid]


def test_a_partial_payment_leaves_the_invoice_open(api, sim):
    iid = open_invoice(api)
    sim.pay_invoice(iid, amount=2500)
    invoice = ok(api.get(f"/v1/invoices/{iid}"))
    assert (invoice["status"], invoice["amount_paid"], invoice["amount_remaining"]) == ("open", 2500, 7500)
    assert "invoice.paid" not in types(sim)
    update = sim.events("invoice.updated")[-1]
    assert update["data"]["previous_attributes"] == {"amount_paid": 0, "amount_remaining": 10000}
    sim.pay_invoice(iid)
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "paid"
    assert len(ok(api.get("/v1/invoice_payments", params={"invoice": iid}))["data"]) == 2


def test_paying_through_the_api_with_a_test_card_or_out_of_band(api, sim):
    iid = open_invoice(api)
    assert ok(api.post(f"/v1/invoices/{iid}/pay", data={"payment_method": "pm_card_visa"}))["status"] == "paid"
    other = open_invoice(api)
    paid = ok(api.post(f"/v1/invoices/{other}/pay", data={"paid_out_of_band": "true"}))
    assert paid["status"] == "paid" and paid["amount_paid"] == 10000
    last = [e for e in sim.events() if e["data"]["object"]["id"] == other][-2:]
    assert [e["type"] for e in last] == ["invoice.paid", "invoice.updated"], "no payment_succeeded out of band"
    assert refused(api.post(f"/v1/invoices/{other}/pay", data={"paid_out_of_band": "true"}))["code"] == \
        "invoice_already_paid"


def test_a_declined_card_is_a_402_card_error(api, sim):
    iid = open_invoice(api)
    error = refused(api.post(f"/v1/invoices/{iid}/pay", data={"payment_method": "pm_card_chargeDeclined"}), 402)
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", "generic_decline")
    assert ok(api.get(f"/v1/charges/{error['charge']}"))["status"] == "failed"
    assert {"charge.failed", "invoice.payment_failed"} <= set(types(sim))
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "open"


def test_refunds_whole_or_part_leave_the_invoice_paid(api, sim):
    iid = open_invoice(api)
    charge = sim.pay_invoice(iid)
    part = ok(api.post("/v1/refunds", data={"charge": charge["id"], "amount": "4000", "reason": "requested_by_customer"}))
    assert (part["status"], part["amount"], part["payment_intent"]) == ("succeeded", 4000, charge["payment_intent"])
    refunded = sim.events("charge.refunded")[-1]
    assert refunded["data"]["previous_attributes"] == {"amount_refunded": 0}
    over = refused(api.post("/v1/refunds", data={"charge": charge["id"], "amount": "6001"}))
    assert over["code"] == "amount_too_large" and "$" not in over["message"] and "60.00 USD" in over["message"]
    rest = ok(api.post("/v1/refunds", data={"payment_intent": charge["payment_intent"]}))
    assert rest["amount"] == 6000
    assert ok(api.get(f"/v1/charges/{charge['id']}"))["refunded"] is True
    assert refused(api.post("/v1/refunds", data={"charge": charge["id"]}))["code"] == "charge_already_refunded"
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "paid"
    assert [r["id"] for r in ok(api.get("/v1/refunds", params={"charge": charge["id"]}))["data"]] == [rest["id"], part["id"]]


def test_a_pending_refund_settles_later_with_refund_updated(api, sim):
    charge = sim.pay_invoice(open_invoice(api))
    pending = sim.refund_charge(charge["id"], amount=1000, pending=True)
    assert pending["status"] == "pending" and sim.events("refund.created")
    sim.settle_refund(pending["id"], "failed")
    [updated] = sim.events("refund.updated")
    assert updated["data"]["object"]["status"] == "failed"
    assert updated["data"]["previous_attributes"]["status"] == "pending"
    assert ok(api.get(f"/v1/charges/{charge['id']}"))["amount_refunded"] == 0, "a failed refund gives the money back"


def test_a_succeeded_refund_can_fail_after_the_fact_and_says_so_with_three_events(api, sim):
    charge = sim.pay_invoice(open_invoice(api))
    refund = sim.refund_charge(charge["id"], amount=4000)
    assert refund["status"] == "succeeded"
    failed = sim.fail_refund(refund["id"], "lost_or_stolen_card")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert failed["failure_balance_transaction"].startswith("txn_")
    assert types(sim)[-3:] == ["refund.updated", "refund.failed", "charge.refund.updated"]
    for event in sim.events()[-3:]:
        assert event["data"]["object"]["id"] == refund["id"]
        assert event["data"]["previous_attributes"]["status"] == "succeeded"
    fetched = ok(api.get(f"/v1/refunds/{refund['id']}"))
    assert (fetched["status"], fetched["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert ok(api.get(f"/v1/charges/{charge['id']}"))["amount_refunded"] == 0, "the money is back on the charge"
    with pytest.raises(Exception, match="only a succeeded refund fails"):
        sim.fail_refund(refund["id"])
    with pytest.raises(ValueError, match="failure_reason must be one of"):
        sim.fail_refund(sim.refund_charge(charge["id"], amount=100)["id"], "bad_luck")


def test_a_refund_of_a_refund_fail_test_card_succeeds_then_fails_by_itself(api, sim):
    charge = sim.pay_invoice(open_invoice(api), payment_method="pm_card_refundFail")
    refund = ok(api.post("/v1/refunds", data={"charge": charge["id"]}))
    assert refund["status"] == "succeeded" and not sim.events("refund.failed")
    sim.advance(59)
    assert ok(api.get(f"/v1/refunds/{refund['id']}"))["status"] == "succeeded"
    sim.advance(1)
    assert ok(api.get(f"/v1/refunds/{refund['id']}"))["status"] == "failed"
    [event] = sim.events("charge.refund.updated")
    assert event["data"]["object"]["failure_reason"] == "expired_or_canceled_card"
    sim.advance(120)
    assert len(sim.events("refund.failed")) == 1, "once"


def test_events_are_retrievable_listable_and_kept_30_days(api, sim):
    charge = sim.pay_invoice(open_invoice(api))
    event = sim.events("charge.succeeded")[0]
    fetched = ok(api.get(f"/v1/events/{event['id']}"))
    assert fetched["data"]["object"]["id"] == charge["id"] and fetched["type"] == "charge.succeeded"
    assert fetched["api_version"] == "2024-06-20", "rendered at the version in force when it happened"
    assert fetched["data"]["object"]["invoice"], "which at 2024-06-20 still names the invoice on a charge"
    invoice_events = ok(api.get("/v1/events", params={"type": "invoice.*", "limit": "100"}))["data"]
    assert invoice_events and all(e["type"].startswith("invoice.") for e in invoice_events)
    sim.advance(30 * 86400)
    assert refused(api.get(f"/v1/events/{event['id']}"), 404)["code"] == "resource_missing"
    assert ok(api.get("/v1/events"))["data"] == []


def test_an_event_says_which_request_caused_it(api, sim):
    response = api.post("/v1/customers", data={"name": "Acme"}, headers={"Idempotency-Key": "k-1"})
    [event] = sim.events("customer.created")
    assert event["request"] == {"id": response.headers["Request-Id"], "idempotency_key": "k-1"}


@pytest.mark.parametrize("path", ["/v1/charges/ch_missing", "/v1/refunds/re_missing", "/v1/payment_intents/pi_missing",
                                  "/v1/invoice_payments/inpay_missing", "/v1/events/evt_missing"])
def test_a_missing_object_is_404_resource_missing(api, path):
    error = refused(api.get(path), 404)
    assert error["code"] == "resource_missing" and path.rsplit("/", 1)[1] in error["message"]

