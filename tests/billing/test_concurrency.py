"""50 deliveries of one event at the same moment, over HTTP, into a live server: one event,
one document, one queued processing, and every delivery answered 200 and kept."""
from __future__ import annotations

import threading

import pytest

from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEvent
from connector.models import AuditEvent, Document

from .conftest import post_signed, signed_event, webhook_url

DELIVERIES = 50


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_deliveries_of_one_event_make_one_event_one_document_one_queued_processing(
        roomy_live_server, endpoint, sent_tasks):
    body, signature = signed_event("evt_delivered_50_times")
    url = roomy_live_server + webhook_url(endpoint)
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver_once() -> None:
        start.wait()
        statuses.append(post_signed(url, body, signature))

    threads = [threading.Thread(target=deliver_once) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [200] * DELIVERIES
    event = WebhookEvent.objects.get()
    outcomes = list(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert sorted(outcomes) == [DeliveryOutcome.ACCEPTED] + [DeliveryOutcome.DUPLICATE] * (DELIVERIES - 1)
    assert set(WebhookDelivery.objects.values_list("event", flat=True)) == {event.pk}
    assert Document.objects.count() == 1
    assert AuditEvent.objects.filter(document=event.document, action="received").count() == 1
    assert sent_tasks == [("connector.process_document",
                           {"document_id": event.document_id, "trigger": "webhook", "user_id": None})]
