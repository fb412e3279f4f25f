"""Signed webhook deliveries from the simulator, checked by a receiver of our own and by
stripe-python's verifier (an implementation the simulator shares nothing with)."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
import stripe

from sandbox.stripe import BASIL, signature_header
from tests.stripe.test_sim_billing import ok, open_invoice

SECRET = "whsec_test_Receiver0123456789abcdef"
URL = "https://receiver.test/stripe/webhooks/endpoint-1/"


@dataclass
class Receiver:
    """A WSGI app standing in for our webhook view: keeps every delivery, answers `status`."""

    status: Callable[[int], int] = lambda n: 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        self.received.append((headers, body))
        code = self.status(len(self.received))
        start_response(f"{code} X", [("Content-Length", "0")])
        return [b""]

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    def ids(self) -> list[tuple[str, str]]:
        return [(e["type"], e["data"]["object"]["id"]) for e in self.events()]


@pytest.fixture
def receiver(sim) -> Receiver:
    receiver = Receiver()
    sim.add_webhook_endpoint(URL, SECRET, transport=httpx.WSGITransport(app=receiver),
                             events=["invoice.*", "charge.*", "refund.*", "customer.*"])
    return receiver


def test_each_event_arrives_signed_the_way_stripe_signs(api, sim, receiver):
    open_invoice(api)
    attempts = sim.deliver_pending()
    assert attempts and all(a.status == 200 for a in attempts)
    assert [e["type"] for e in receiver.events()] == ["customer.created", "invoice.created", "invoice.finalized"]
    for headers, body in receiver.received:
        parts = dict(p.split("=", 1) for p in headers["stripe-signature"].split(",") if not p.startswith("v1="))
        assert int(parts["t"]) == int(sim.clock.now())
        expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
        assert f"v1={expected}" in headers["stripe-signature"]
        assert "v0=" in headers["stripe-signature"], "test mode adds a v0 made with another key"
        stripe.WebhookSignature.verify_header(body.decode(), headers["stripe-signature"], SECRET, tolerance=300)
        assert headers["content-type"].startswith("application/json")
        assert body.startswith(b"{\n  "), "pretty-printed: only the raw bytes verify"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(receiver.received[0][1].decode(), receiver.received[0][0]["stripe-signature"],
                                              "whsec_wrong", tolerance=300)


def test_the_signing_time_follows_the_simulators_clock(api, sim, receiver):
    sim.advance(-600)  # the simulator's clock ten minutes behind: a stale signature for any verifier
    open_invoice(api)
    sim.deliver_pending()
    headers, body = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError, match="outside the tolerance zone"):
        stripe.WebhookSignature.verify_header(body.decode(), headers["stripe-signature"], SECRET, tolerance=300)


def test_signature_header_is_exported_for_signing_test_payloads():
    header = signature_header("whsec_abc", b'{"id": "evt_1"}', 1_700_000_000)
    stripe.WebhookSignature.verify_header('{"id": "evt_1"}', header, "whsec_abc", tolerance=None)
    assert header.startswith("t=1700000000,v1=") and "v0=" not in header


def test_an_event_can_be_delivered_twice(api, sim, receiver):
    sim.duplicate_next("invoice.finalized")
    open_invoice(api)
    sim.deliver_pending()
    finalized = [e for e in receiver.events() if e["type"] == "invoice.finalized"]
    assert len(finalized) == 2 and finalized[0]["id"] == finalized[1]["id"]
    assert [a.copy for a in sim.deliveries() if a.event_type == "invoice.finalized"] == [1, 2]


def test_an_event_can_be_held_back_until_a_later_one_was_delivered(api, sim, receiver):
    sim.hold_next("charge.succeeded")
    iid = open_invoice(api)
    charge = sim.pay_invoice(iid)
    sim.deliver_pending()
    order = [t for t, _ in receiver.ids()]
    assert order.index("charge.succeeded") > order.index("invoice.paid")
    assert ("charge.succeeded", charge["id"]) in receiver.ids()


def test_a_held_event_with_nothing_after_it_waits_until_released(api, sim, receiver):
    sim.hold_next("customer.created")
    api.post("/v1/customers", data={"name": "Acme"})
    assert sim.deliver_pending() == []
    sim.webhooks.release_held()
    assert [a.event_type for a in sim.deliver_pending()] == ["customer.created"]


def test_a_failed_delivery_is_retried_on_the_clock(api, sim, receiver):
    receiver.status = lambda n: 500 if n == 1 else 200
    api.post("/v1/customers", data={"name": "Acme"})
    [first] = sim.deliver_pending()
    assert first.status == 500
    event_id = first.event_id
    assert ok(api.get(f"/v1/events/{event_id}"))["pending_webhooks"] == 1
    assert sim.deliver_pending() == [], "not due yet"
    sim.advance(60)
    [second] = sim.deliver_pending()
    assert (second.event_id, second.status) == (event_id, 200)
    assert ok(api.get(f"/v1/events/{event_id}"))["pending_webhooks"] == 0


def test_an_endpoint_gets_events_rendered_at_its_own_api_version(api, sim):
    receiver = Receiver()
    sim.add_webhook_endpoint(URL, SECRET, transport=httpx.WSGITransport(app=receiver), api_version=BASIL,
                             events=["invoice.paid"])
    sim.pay_invoice(open_invoice(api))
    sim.deliver_pending()
    [event] = receiver.events()
    assert event["api_version"] == BASIL and "charge" not in event["data"]["object"]
    assert sim.events("invoice.paid")[0]["data"]["object"]["charge"], "the account's own version still has it"


def test_endpoints_only_get_the_events_they_asked_for(api, sim, receiver):
    sim.pay_invoice(open_invoice(api))
    sim.deliver_pending()
    assert not {t for t, _ in receiver.ids()} & {"payment_intent.created", "invoice_payment.paid", "invoiceitem.created"}
