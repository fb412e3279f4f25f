"""The webhook URL end to end through Django's test client: stored first, verified with real
HMAC signatures, one event per Stripe event id, every bad input a status and a reason."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from billing.webhooks import receive as receive_module
from billing.webhooks.receive import MAX_BODY_BYTES
from connector.models import AuditEvent, Document

from .conftest import OTHER_SECRET, SECRET, deliver, signed_event, webhook_url
from .events import event_body, invoice_paid_event, signature_header

pytestmark = pytest.mark.django_db


def only_delivery() -> WebhookDelivery:
    (delivery,) = WebhookDelivery.objects.all()
    return delivery


def test_a_signed_event_is_stored_verified_and_handed_to_the_engine(client, endpoint, sent_tasks):
    body, signature = signed_event("evt_1QvVpS2eZvKYlo2Cabc00001")
    response = deliver(client, endpoint, body, signature)

    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "accepted"
    delivery = only_delivery()
    assert bytes(delivery.body) == body and delivery.size == len(body)
    assert delivery.headers["Stripe-Signature"] == signature
    assert delivery.remote_addr == "127.0.0.1" and delivery.method == "POST"
    assert delivery.verified and delivery.outcome == DeliveryOutcome.ACCEPTED and delivery.status_code == 200
    assert delivery.secret == WebhookSecret.objects.get(endpoint=endpoint)
    assert abs(delivery.signed_at.timestamp() - time.time()) < 60
    event = delivery.event
    assert (event.stripe_id, event.type, event.object_id, event.tenant_id) == (
        "evt_1QvVpS2eZvKYlo2Cabc00001", "invoice.paid", "in_1QvVpR2eZvKYlo2C0aB1cD2e", endpoint.tenant_id)
    assert event.api_version == "2025-03-31.basil" and event.livemode is False and event.queued_at is not None
    document = event.document
    assert (document.flow, document.external_key, document.tenant_id) == (
        "stripe-payment", "evt_1QvVpS2eZvKYlo2Cabc00001", endpoint.tenant_id)
    assert document.raw == body.decode() and document.state == "received"
    assert AuditEvent.objects.filter(document=document, action="received").count() == 1
    assert sent_tasks == [("connector.process_document",
                           {"document_id": document.pk, "trigger": "webhook", "user_id": None})]


def test_stripe_pythons_own_signing_helper_is_accepted(client, endpoint):
    body = event_body(invoice_paid_event("evt_signed_by_stripe_python"))
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    assert deliver(client, endpoint, body, signature).status_code == 200


def test_a_tampered_body_is_refused_and_kept_as_received(client, endpoint, sent_tasks):
    body, signature = signed_event(amount=125000)
    tampered = body.replace(b"125000", b"125001")
    response = deliver(client, endpoint, tampered, signature)

    assert response.status_code == 400
    delivery = only_delivery()
    assert bytes(delivery.body) == tampered
    assert (delivery.outcome, delivery.verified, delivery.status_code) == (DeliveryOutcome.SIGNATURE_MISMATCH, False, 400)
    assert "no v1 signature matches" in delivery.reason
    assert not WebhookEvent.objects.exists() and not Document.objects.exists() and not sent_tasks


def test_a_signature_made_with_another_secret_is_refused(client, endpoint):
    body, signature = signed_event("evt_wrong_secret", OTHER_SECRET)
    assert deliver(client, endpoint, body, signature).status_code == 400
    assert only_delivery().outcome == DeliveryOutcome.SIGNATURE_MISMATCH
    assert not WebhookEvent.objects.exists()


def test_while_a_secret_is_rolled_old_and_new_both_verify_until_the_old_one_expires(client, endpoint):
    old = WebhookSecret.objects.get(endpoint=endpoint)
    old.expires_at = timezone.now() + timedelta(hours=1)
    old.save()
    new = WebhookSecret.objects.create(endpoint=endpoint, secret=OTHER_SECRET)

    cases = [("evt_roll_old", (SECRET,), old), ("evt_roll_new", (OTHER_SECRET,), new),
             ("evt_roll_both", (SECRET, OTHER_SECRET), None)]
    for event_id, secrets, matched in cases:
        body, signature = signed_event(event_id, *secrets)
        assert deliver(client, endpoint, body, signature).status_code == 200, event_id
        delivery = WebhookDelivery.objects.get(event__stripe_id=event_id)
        assert delivery.secret in ((matched,) if matched else (old, new))

    old.expires_at = timezone.now() - timedelta(seconds=1)
    old.save()
    body, signature = signed_event("evt_roll_old_after_expiry", SECRET)
    response = deliver(client, endpoint, body, signature)
    assert response.status_code == 400
    refused = WebhookDelivery.objects.get(outcome=DeliveryOutcome.SIGNATURE_MISMATCH)
    assert bytes(refused.body) == body and not WebhookEvent.objects.filter(stripe_id="evt_roll_old_after_expiry")
    body, signature = signed_event("evt_roll_new_after_expiry", OTHER_SECRET)
    assert deliver(client, endpoint, body, signature).status_code == 200


@pytest.mark.parametrize(("offset", "status", "outcome"), [
    (-320, 400, DeliveryOutcome.STALE), (-280, 200, DeliveryOutcome.ACCEPTED),
    (320, 400, DeliveryOutcome.FUTURE), (280, 200, DeliveryOutcome.ACCEPTED),
])
def test_the_timestamp_must_be_within_300_seconds_either_way(client, endpoint, offset, status, outcome):
    body, signature = signed_event(f"evt_time_{offset}", timestamp=int(time.time()) + offset)
    assert deliver(client, endpoint, body, signature).status_code == status
    delivery = only_delivery()
    assert delivery.outcome == outcome and delivery.verified, "the MAC itself matched"
    assert delivery.signed_at is not None
    if status == 400:
        assert "300 s allowed" in delivery.reason and not WebhookEvent.objects.exists()


def test_a_replayed_event_is_answered_200_and_makes_nothing_new(client, endpoint, sent_tasks):
    body, signature = signed_event("evt_replayed")
    assert deliver(client, endpoint, body, signature).status_code == 200
    # Stripe's retry: same event, signed again later.
    body_again, signature_again = signed_event("evt_replayed", timestamp=int(time.time()) + 5)
    response = deliver(client, endpoint, body_again, signature_again)

    assert response.status_code == 200 and response.json()["outcome"] == "duplicate"
    event = WebhookEvent.objects.get()
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", "event")) == [
        (DeliveryOutcome.ACCEPTED, event.pk), (DeliveryOutcome.DUPLICATE, event.pk)]
    assert Document.objects.count() == 1 and len(sent_tasks) == 1


def test_the_same_event_on_two_endpoints_of_a_tenant_is_one_document_processed_once(client, endpoint, sent_tasks):
    second = WebhookEndpoint.objects.create(tenant=endpoint.tenant, description="New URL")
    WebhookSecret.objects.create(endpoint=second, secret=OTHER_SECRET)
    for target, secret in ((endpoint, SECRET), (second, OTHER_SECRET)):
        body, signature = signed_event("evt_on_two_endpoints", secret)
        assert deliver(client, target, body, signature).status_code == 200
    assert WebhookEvent.objects.count() == 2 and Document.objects.count() == 1 and len(sent_tasks) == 1


def test_unknown_disabled_or_malformed_endpoints_are_404_and_kept(client, endpoint):
    body, signature = signed_event()
    assert deliver(client, endpoint, body, signature, url=f"/stripe/webhooks/{uuid.uuid4()}/").status_code == 404
    assert deliver(client, endpoint, body, signature, url="/stripe/webhooks/not-a-uuid/").status_code == 404
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    assert deliver(client, endpoint, body, signature).status_code == 404

    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert [(d.outcome, d.status_code, d.endpoint_id) for d in rows] == [
        (DeliveryOutcome.UNKNOWN_ENDPOINT, 404, None), (DeliveryOutcome.UNKNOWN_ENDPOINT, 404, None),
        (DeliveryOutcome.UNKNOWN_ENDPOINT, 404, endpoint.pk)]
    assert rows[1].path == "/stripe/webhooks/not-a-uuid/" and "disabled" in rows[2].reason
    assert all(bytes(d.body) == body for d in rows) and not WebhookEvent.objects.exists()


def test_a_wrong_method_is_405_and_kept(client, endpoint):
    response = client.get(webhook_url(endpoint))
    assert response.status_code == 405 and response["Allow"] == "POST"
    delivery = only_delivery()
    assert (delivery.method, delivery.outcome, delivery.status_code) == ("GET", DeliveryOutcome.METHOD_NOT_ALLOWED, 405)


@pytest.mark.parametrize(("header", "outcome", "reason"), [
    (None, DeliveryOutcome.NO_SIGNATURE, "missing"),
    ("", DeliveryOutcome.NO_SIGNATURE, "missing"),
    ("v1=" + "0" * 64, DeliveryOutcome.MALFORMED_SIGNATURE, "exactly one t="),
    ("t=12a4,v1=" + "0" * 64, DeliveryOutcome.MALFORMED_SIGNATURE, "exactly one t="),
    ("t=1,t=2,v1=" + "0" * 64, DeliveryOutcome.MALFORMED_SIGNATURE, "exactly one t="),
    (f"t={int(time.time())},v0=" + "0" * 64, DeliveryOutcome.MALFORMED_SIGNATURE, "no v1= signature"),
    ("garbage", DeliveryOutcome.MALFORMED_SIGNATURE, "not key=value"),
])
def test_a_missing_or_malformed_signature_header_is_400_with_the_reason(client, endpoint, header, outcome, reason):
    body, _ = signed_event()
    response = deliver(client, endpoint, body, header)
    assert response.status_code == 400
    delivery = only_delivery()
    assert delivery.outcome == outcome and reason in delivery.reason and reason in response.json()["detail"]


@pytest.mark.parametrize(("body", "reason"), [
    (b"this is not json", "not UTF-8 JSON"),
    (b'{"id": "evt_1", "type": "invoice.paid"', "not UTF-8 JSON"),
    ("{\"id\": \"evt_latin1\", \"type\": \"caf\xe9\"}".encode("latin-1"), "not UTF-8 JSON"),
    (b'["evt_1"]', "not an object"),
    (b'{"object": "event", "type": "invoice.paid"}', "no event id"),
    (b'{"id": "ch_123", "type": "invoice.paid"}', "no event id"),
    (b'{"id": "evt_1", "type": ""}', "no event type"),
])
def test_a_signed_body_that_is_not_a_json_event_is_400(client, endpoint, body, reason):
    response = deliver(client, endpoint, body, signature_header(body, SECRET))
    assert response.status_code == 400
    delivery = only_delivery()
    assert delivery.outcome == DeliveryOutcome.NOT_JSON and delivery.verified and reason in delivery.reason
    assert bytes(delivery.body) == body and not WebhookEvent.objects.exists()


def test_a_body_over_1_mb_is_413_and_stored_truncated_with_its_size(client, endpoint):
    event = invoice_paid_event("evt_too_large")
    event["data"]["object"]["description"] = "x" * MAX_BODY_BYTES
    body = event_body(event)
    response = deliver(client, endpoint, body, signature_header(body, SECRET))

    assert response.status_code == 413
    delivery = only_delivery()
    assert delivery.outcome == DeliveryOutcome.TOO_LARGE and delivery.size == len(body)
    assert bytes(delivery.body) == body[:MAX_BODY_BYTES] and delivery.truncated
    assert str(len(body)) in delivery.reason


def test_a_body_of_exactly_1_mb_is_not_too_large(client, endpoint):
    event = invoice_paid_event("evt_exactly_1mb")
    event["data"]["object"]["description"] = ""
    filler = MAX_BODY_BYTES - len(event_body(event))
    event["data"]["object"]["description"] = "x" * filler
    body = event_body(event)
    assert len(body) == MAX_BODY_BYTES
    assert deliver(client, endpoint, body, signature_header(body, SECRET)).status_code == 200


def test_a_failure_of_ours_after_storing_keeps_the_delivery_answers_500_and_the_retry_succeeds(
        client, endpoint, sent_tasks):
    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    body, signature = signed_event("evt_after_our_failure")
    with pytest.MonkeyPatch.context() as patch:  # its own: undoing it leaves the captured send_task alone
        for name in ("_event_insert", "_event_insert_postgresql"):  # the write of the event and its delivery
            patch.setattr(receive_module, name, broken)
        response = deliver(client, endpoint, body, signature)

    assert response.status_code == 500
    delivery = only_delivery()
    assert (delivery.outcome, delivery.status_code) == (DeliveryOutcome.ERROR, 500)
    assert bytes(delivery.body) == body and "RuntimeError: database hiccup" in delivery.reason
    assert "Traceback" in delivery.traceback
    assert not WebhookEvent.objects.exists() and not Document.objects.exists() and not sent_tasks

    assert deliver(client, endpoint, body, signature).status_code == 200, "Stripe's retry"
    assert WebhookEvent.objects.get().stripe_id == "evt_after_our_failure"
    assert len(sent_tasks) == 1


def test_a_response_says_what_happened_and_names_the_delivery(client, endpoint):
    body, signature = signed_event()
    payload = json.loads(deliver(client, endpoint, body, signature).content)
    assert payload == {"outcome": "accepted", "detail": "new event invoice.paid evt_1QvVpS2eZvKYlo2Cabc00001",
                       "delivery": only_delivery().pk}


def test_a_peer_address_that_is_not_an_ip_is_kept_as_none_not_a_failure(client, endpoint):
    body, signature = signed_event("evt_from_a_unix_socket")
    response = client.post(webhook_url(endpoint), data=body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=signature, REMOTE_ADDR="unix:/run/gunicorn.sock")
    assert response.status_code == 200 and only_delivery().remote_addr is None
