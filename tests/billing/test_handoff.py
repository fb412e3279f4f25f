"""From an accepted event to the engine: the nudge, the drain that makes one document per event,
`connector.process_document` sent by name on the real broker, and the sweeper for what a broker
outage left undrained or unqueued."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection
from kombu.simple import SimpleQueue

from billing.models import WebhookEvent
from billing.tasks import drain_webhook_events, queue_unqueued_webhook_events
from billing.webhooks.handoff import (
    DRAIN_TASK,
    PROCESS_DOCUMENT_TASK,
    SWEEP_GRACE,
    SWEEP_STALL,
    webhook_event_replay,
    webhook_events_drain,
)
from connector.locks import exclusive
from connector.models import AuditEvent, Document, Trigger
from connector.pipeline import document_process
from tests.factories import make_user

from .conftest import deliver, signed_event

pytestmark = pytest.mark.django_db


def test_the_queued_task_runs_the_event_s_document_through_the_stripe_payment_flow(
        client, endpoint, sent_tasks, stub_payment_flow):
    body, signature = signed_event("evt_handed_off")
    assert deliver(client, endpoint, body, signature).status_code == 200
    ((name, kwargs),) = sent_tasks
    assert name == PROCESS_DOCUMENT_TASK and kwargs["trigger"] == Trigger.WEBHOOK

    # What the engine's task does with those kwargs: run the document through its flow.
    document = Document.objects.get(pk=kwargs["document_id"])
    document_process(document, trigger=kwargs["trigger"])
    assert stub_payment_flow == ["evt_handed_off"]
    assert Document.objects.get(pk=document.pk).state == "posted"


def _old_unqueued_event(client, endpoint, event_id: str) -> WebhookEvent:
    body, signature = signed_event(event_id)
    assert deliver(client, endpoint, body, signature).status_code == 200
    WebhookEvent.objects.filter(stripe_id=event_id).update(
        queued_at=None, created_at=timezone.now() - SWEEP_GRACE - timedelta(seconds=1))
    return WebhookEvent.objects.get(stripe_id=event_id)


def test_the_sweeper_queues_old_unqueued_events_once_and_leaves_young_ones_to_their_request(
        client, endpoint, sent_tasks):
    old = _old_unqueued_event(client, endpoint, "evt_left_behind")
    body, signature = signed_event("evt_young")
    deliver(client, endpoint, body, signature)
    young = WebhookEvent.objects.get(stripe_id="evt_young")
    WebhookEvent.objects.filter(pk=young.pk).update(queued_at=None)
    sent_tasks.clear()

    assert queue_unqueued_webhook_events() == {"documents": 0, "queued": 1, "stalled": 0, "refused": 0, "busy": 0}
    assert sent_tasks == [(PROCESS_DOCUMENT_TASK, {"document_id": old.document_id, "trigger": "webhook", "user_id": None})]
    assert WebhookEvent.objects.get(pk=old.pk).queued_at is not None
    assert WebhookEvent.objects.get(pk=young.pk).queued_at is None
    assert webhook_events_drain(sweep=True)["queued"] == 0, "queued once"


def test_the_sweeper_sends_again_what_was_sent_long_ago_while_its_document_never_moved(
        client, endpoint, sent_tasks, stub_payment_flow):
    for event_id in ("evt_lost_by_the_broker", "evt_processed_long_ago"):
        body, signature = signed_event(event_id)
        deliver(client, endpoint, body, signature)
    long_ago = timezone.now() - SWEEP_STALL - timedelta(minutes=1)
    WebhookEvent.objects.update(queued_at=long_ago, created_at=long_ago)
    Document.objects.update(updated_at=long_ago)
    processed = WebhookEvent.objects.get(stripe_id="evt_processed_long_ago").document
    document_process(processed, trigger=Trigger.WEBHOOK)  # this one a worker did take
    sent_tasks.clear()

    assert webhook_events_drain(sweep=True) == {"documents": 0, "queued": 1, "stalled": 1, "refused": 0, "busy": 0}
    lost = WebhookEvent.objects.get(stripe_id="evt_lost_by_the_broker")
    assert sent_tasks == [(PROCESS_DOCUMENT_TASK, {"document_id": lost.document_id, "trigger": "webhook",
                                                   "user_id": None})]
    assert lost.queued_at > long_ago
    assert webhook_events_drain(sweep=True)["queued"] == 0, "stamped again: not before another 15 minutes"


def test_a_second_sweep_at_the_same_time_skips(client, endpoint, sent_tasks):
    _old_unqueued_event(client, endpoint, "evt_sweep_busy")
    sent_tasks.clear()
    with exclusive("billing:webhook-events-sweep") as acquired:
        assert acquired
        assert webhook_events_drain(sweep=True) == {"documents": 0, "queued": 0, "stalled": 0, "refused": 0, "busy": 1}
    assert not sent_tasks


def test_replay_queues_the_document_again_for_the_user_and_says_so_in_the_audit_trail(client, endpoint, sent_tasks):
    body, signature = signed_event("evt_replay_me")
    deliver(client, endpoint, body, signature)
    event = WebhookEvent.objects.get()
    user = make_user("sue")
    sent_tasks.clear()

    webhook_event_replay(event=event, user=user)
    assert sent_tasks == [(PROCESS_DOCUMENT_TASK, {"document_id": event.document_id, "trigger": "manual",
                                                   "user_id": user.pk})]
    audit = AuditEvent.objects.get(document=event.document, action="replay_requested")
    assert audit.actor == "sue" and "evt_replay_me" in audit.reason


@pytest.fixture
def private_queue(real_broker):
    """The app's default queue renamed for one test, so only this test's messages are read."""
    name = f"webhook-test-{os.getpid()}-{time.monotonic_ns()}"
    previous = real_broker.conf.task_default_queue
    real_broker.conf.task_default_queue = name
    yield name
    real_broker.conf.task_default_queue = previous


def _messages(app, queue_name: str, *, expect: int, timeout: float = 10) -> list[dict]:
    bodies = []
    with Connection(app.conf.broker_url, transport_options=app.conf.broker_transport_options or {}) as conn:
        queue = SimpleQueue(conn, queue_name)
        deadline = time.monotonic() + timeout
        while len(bodies) < expect and time.monotonic() < deadline:
            try:
                message = queue.get(block=True, timeout=0.5)
            except queue.Empty:
                continue
            bodies.append({"task": message.headers["task"], "kwargs": message.decode()[1]})
            message.ack()
        queue.close()
    return bodies


def test_the_nudge_and_then_the_task_reach_the_real_broker_by_name_with_the_engine_s_kwargs(
        client, endpoint, real_broker, private_queue):
    body, signature = signed_event("evt_on_the_broker")
    assert deliver(client, endpoint, body, signature).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.document_id is None and event.queued_at is None, "the request makes no document"
    assert _messages(real_broker, private_queue, expect=1) == [{"task": DRAIN_TASK, "kwargs": {}}]

    assert drain_webhook_events() == {"documents": 1, "queued": 1, "stalled": 0, "refused": 0, "busy": 0}  # what the worker runs
    event.refresh_from_db()
    assert event.queued_at is not None and event.document.external_key == "evt_on_the_broker"
    assert _messages(real_broker, private_queue, expect=1) == [{
        "task": "connector.process_document",
        "kwargs": {"document_id": event.document_id, "trigger": "webhook", "user_id": None}}]


@pytest.fixture
def broker_down(real_broker):
    """Publishing goes through a real connection to a port nothing listens on: refused, as
    when the broker is down. `broker_down.undo()` brings it back."""

    @contextmanager
    def dead_producer(producer=None):
        with Connection("redis://127.0.0.1:1/0") as connection:
            yield connection.Producer()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(real_broker, "producer_or_acquire", dead_producer)
        yield patch


def test_with_the_broker_down_the_event_is_accepted_and_the_sweeper_drains_and_queues_it_later(
        client, endpoint, real_broker, private_queue, broker_down, caplog):
    body, signature = signed_event("evt_broker_down")
    with caplog.at_level(logging.WARNING, logger="billing"):
        response = deliver(client, endpoint, body, signature)
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    event = WebhookEvent.objects.get()
    assert event.document_id is None and event.queued_at is None
    assert "not nudged, the sweeper will drain" in caplog.text

    later = timezone.now() + SWEEP_GRACE * 2
    assert webhook_events_drain(sweep=True, now=later) == {"documents": 1, "queued": 0, "stalled": 0, "refused": 1,
                                                        "busy": 0}, "the document is made, the broker still down"
    event.refresh_from_db()
    assert event.queued_at is None and Document.objects.filter(pk=event.document_id).count() == 1

    broker_down.undo()  # the broker is back
    assert webhook_events_drain(sweep=True, now=later)["queued"] == 1
    assert WebhookEvent.objects.get().queued_at is not None
    assert _messages(real_broker, private_queue, expect=1)[0]["kwargs"]["document_id"] == event.document_id
    assert Document.objects.count() == 1
