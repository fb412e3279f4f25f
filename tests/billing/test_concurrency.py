"""50 deliveries of one event at the same moment, over HTTP, into a live server: one event,
one document, one queued processing, and every delivery answered 200 and kept."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEvent
from connector.models import AuditEvent, Document

from .conftest import signed_event, webhook_url

DELIVERIES = 50
PORTS = range(8520, 8530)  # this worktree's own


class RoomyWSGIServer(ThreadedWSGIServer):
    """Django's threaded test server with a listen backlog for 50 simultaneous connections
    (it keeps 10, and the rest would be reset before the view ever saw them)."""

    request_queue_size = 128


class RoomyLiveServerThread(LiveServerThread):
    server_class = RoomyWSGIServer


@pytest.fixture
def roomy_live_server(transactional_db):
    for port in PORTS:
        thread = RoomyLiveServerThread("127.0.0.1", StaticFilesHandler, port=port)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error is None:
            break
        thread.join()
    else:
        pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the live server")
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def post(url: str, body: bytes, signature: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_deliveries_of_one_event_make_one_event_one_document_one_queued_processing(
        roomy_live_server, endpoint, sent_tasks):
    body, signature = signed_event("evt_delivered_50_times")
    url = roomy_live_server + webhook_url(endpoint)
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver_once() -> None:
        start.wait()
        statuses.append(post(url, body, signature))

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
