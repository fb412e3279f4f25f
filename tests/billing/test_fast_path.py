"""What the fast request path must not give up: a process's cached endpoint keys only propose
(the database decides in the same statement), and the nudger thread always nudges after the
last event it was told of, however many it folds into one message (driven step by step: a
fake broker whose sends block until the test releases them, no wall-clock sleep)."""
from __future__ import annotations

import queue
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from billing.webhooks import handoff
from connector.documents import document_receive
from connector.models import AuditEvent, Document

from .conftest import OTHER_SECRET, deliver, signed_event

pytestmark = pytest.mark.django_db


def _warm(client, endpoint) -> None:
    """One accepted delivery: this process now holds the endpoint's keys."""
    body, signature = signed_event("evt_warm_the_cache")
    assert deliver(client, endpoint, body, signature).status_code == 200


def test_a_secret_expired_by_another_process_is_refused_at_once_despite_the_cache(client, endpoint):
    _warm(client, endpoint)
    # Another process (the admin's) expires it: this process's cache is not told.
    WebhookSecret.objects.filter(endpoint=endpoint).update(expires_at=timezone.now() - timedelta(seconds=1))
    body, signature = signed_event("evt_after_the_secret_went")
    response = deliver(client, endpoint, body, signature)

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get(outcome=DeliveryOutcome.SIGNATURE_MISMATCH)
    assert bytes(delivery.body) == body and not WebhookEvent.objects.filter(stripe_id="evt_after_the_secret_went")


def test_an_endpoint_disabled_by_another_process_answers_404_at_once(client, endpoint):
    _warm(client, endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    body, signature = signed_event("evt_after_disabling")
    assert deliver(client, endpoint, body, signature).status_code == 404
    assert WebhookDelivery.objects.filter(outcome=DeliveryOutcome.UNKNOWN_ENDPOINT, reason__contains="disabled").exists()
    assert not WebhookEvent.objects.filter(stripe_id="evt_after_disabling")


def test_a_secret_added_by_another_process_verifies_at_once(client, endpoint):
    _warm(client, endpoint)
    WebhookSecret.objects.create(endpoint=endpoint, secret=OTHER_SECRET)
    body, signature = signed_event("evt_signed_with_the_new_secret", OTHER_SECRET)
    assert deliver(client, endpoint, body, signature).status_code == 200
    assert WebhookEvent.objects.filter(stripe_id="evt_signed_with_the_new_secret").exists()


class Broker:
    """The nudger's broker and clock, driven by the test: each send announces itself on
    `started` and blocks until the test lets it end (`finish`, or `refuse` to fail it); each
    pause after a send is announced on `paused` and returns at once."""

    def __init__(self) -> None:
        self.started: queue.Queue[int] = queue.Queue()
        self.paused: queue.Queue[float] = queue.Queue()
        self.outcomes: queue.Queue[Exception | None] = queue.Queue()
        self.sends = 0

    def send(self) -> None:
        self.sends += 1
        self.started.put(self.sends)
        outcome = self.outcomes.get(timeout=DEADLINE)  # blocked until the test says how it ends
        if outcome is not None:
            raise outcome

    def pause(self, seconds: float) -> None:
        self.paused.put(seconds)

    def finish(self, error: Exception | None = None) -> None:
        self.outcomes.put(error)

    def next_send(self) -> int:
        return self.started.get(timeout=DEADLINE)

    def next_pause(self) -> float:
        return self.paused.get(timeout=DEADLINE)


DEADLINE = 10  # seconds any one step may take before the test fails; none waits for time to pass


@pytest.fixture
def broker(monkeypatch) -> Broker:
    fake = Broker()
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", True)
    monkeypatch.setattr(handoff, "_nudger", handoff.Nudger(fake.send, interval=0.2, pause=fake.pause))
    return fake


def test_the_nudger_folds_a_burst_into_one_message_and_always_sends_after_the_last_nudge(broker):
    handoff.webhook_events_nudge()
    assert broker.next_send() == 1

    # 800 nudges from 4 threads while that publish is under way: none of them waits for it.
    start = threading.Barrier(4)

    def burst() -> None:
        start.wait(timeout=DEADLINE)
        for _ in range(200):
            handoff.webhook_events_nudge()

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE)
    assert not any(thread.is_alive() for thread in threads), "a nudge waited for the broker"
    assert broker.started.empty(), "one send at a time"

    broker.finish()
    assert broker.next_pause() == 0.2, "at most one send per interval"
    assert broker.next_send() == 2, "the nudges during a send are sent again after it"
    assert not handoff._nudger.wanted.is_set(), "all 800 folded into that one"
    broker.finish()
    assert broker.next_pause() == 0.2
    assert not handoff._nudger.wanted.is_set() and broker.started.empty(), "nothing more is asked for"

    handoff.webhook_events_nudge()  # the last event's nudge
    assert broker.next_send() == 3
    broker.finish()
    assert broker.next_pause() == 0.2
    assert broker.sends == 3, "801 nudges, 3 messages"


def test_a_failing_send_does_not_stop_the_nudger(broker):
    handoff.webhook_events_nudge()
    assert broker.next_send() == 1
    broker.finish(handoff.QueueRefused("broker down"))
    broker.next_pause()
    assert handoff._nudger.thread.is_alive()

    handoff.webhook_events_nudge()
    assert broker.next_send() == 2
    broker.finish(RuntimeError("anything else"))
    broker.next_pause()

    handoff.webhook_events_nudge()
    assert broker.next_send() == 3
    broker.finish()
    broker.next_pause()


def test_a_document_another_drain_made_meanwhile_is_not_made_or_sent_twice(client, endpoint, sent_tasks, monkeypatch):
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", True)  # no drain from the request: this test runs it
    monkeypatch.setattr(handoff, "_nudger", type("Quiet", (), {"nudge": lambda self: None})())
    for event_id in ("evt_raced_by_another_drain", "evt_drained_here"):
        body, signature = signed_event(event_id)
        assert deliver(client, endpoint, body, signature).status_code == 200
    assert not Document.objects.exists()

    summarize = handoff.document_summarize

    def another_drain_commits_first(document):
        if document.external_key == "evt_raced_by_another_drain" and not Document.objects.exists():
            document_receive(tenant=document.tenant, flow=document.flow, external_key=document.external_key,
                             raw=document.raw, source=document.source)
        return summarize(document)

    monkeypatch.setattr(handoff, "document_summarize", another_drain_commits_first)
    assert handoff.webhook_events_drain() == {"documents": 1, "queued": 1, "stalled": 0, "refused": 0, "busy": 0}
    assert Document.objects.count() == 2
    here = Document.objects.get(external_key="evt_drained_here")
    assert sent_tasks == [("connector.process_document", {"document_id": here.pk, "trigger": "webhook", "user_id": None})]
    assert AuditEvent.objects.filter(action="received").count() == 2, "one each"
    assert not WebhookEvent.objects.filter(document__isnull=True).exists()
    assert handoff.webhook_events_drain()["documents"] == 0, "a redelivered nudge"
    assert len(sent_tasks) == 1
