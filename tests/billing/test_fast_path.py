"""What the fast request path must not give up: a process's cached endpoint keys only propose
(the database decides in the same statement), and the nudger thread always nudges after the
last event it was told of, however many it folds into one message."""
from __future__ import annotations

import threading
import time
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


def test_the_nudger_folds_a_burst_into_few_messages_and_always_sends_after_the_last_nudge(monkeypatch):
    sent: list[float] = []

    def send() -> None:
        sent.append(time.monotonic())
        time.sleep(0.01)  # a publish takes a while: nudges arrive during it

    monkeypatch.setattr(handoff, "drain_nudge_send", send)
    monkeypatch.setattr(handoff, "NUDGE_INTERVAL", 0.05)
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", True)
    monkeypatch.setattr(handoff, "_nudger", handoff._Nudger())

    def burst() -> None:
        for _ in range(200):
            handoff.webhook_events_nudge()
            time.sleep(0.001)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last_nudge = time.monotonic()
    deadline = last_nudge + 5
    while not (sent and sent[-1] >= last_nudge) and time.monotonic() < deadline:
        time.sleep(0.01)

    assert sent and sent[-1] >= last_nudge, "a send started after the last nudge"
    assert len(sent) < 100, f"800 nudges folded into {len(sent)} messages"


def test_a_failing_send_does_not_stop_the_nudger(monkeypatch):
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise handoff.QueueRefused("broker down")

    monkeypatch.setattr(handoff, "drain_nudge_send", send)
    monkeypatch.setattr(handoff, "NUDGE_INTERVAL", 0.01)
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", True)
    monkeypatch.setattr(handoff, "_nudger", handoff._Nudger())
    handoff.webhook_events_nudge()
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    handoff.webhook_events_nudge()
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 2


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
    assert handoff.webhook_events_drain() == {"documents": 1, "queued": 1, "refused": 0}
    assert Document.objects.count() == 2
    here = Document.objects.get(external_key="evt_drained_here")
    assert sent_tasks == [("connector.process_document", {"document_id": here.pk, "trigger": "webhook", "user_id": None})]
    assert AuditEvent.objects.filter(action="received").count() == 2, "one each"
    assert not WebhookEvent.objects.filter(document__isnull=True).exists()
    assert handoff.webhook_events_drain() == {"documents": 0, "queued": 0, "refused": 0}, "a redelivered nudge"
