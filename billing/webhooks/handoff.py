"""Handing accepted events to the engine: one document per event, processed by a worker.

The task is sent by name (`connector.process_document`), so billing needs nothing of the
engine's task module. An event is marked queued only after the broker took the message; an
event left unmarked (broker down, a crash between commit and send) is queued by the sweeper,
a periodic task. Sending twice is possible in a crash window and harmless: the engine takes
a lock per document and resumes only unfinished work. Losing one is not possible.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from connector.documents import audit_record
from connector.locks import exclusive
from connector.models import Trigger

from ..models import WebhookEvent

log = logging.getLogger(__name__)

STRIPE_PAYMENT_FLOW = "stripe-payment"
PROCESS_DOCUMENT_TASK = "connector.process_document"
# An event younger than this may still be on its way to the broker from its own request.
SWEEP_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500
# One quick reconnect (a pooled connection gone stale), then give up: the request must answer
# in milliseconds, and the sweeper tries again.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


class QueueRefused(Exception):
    """The broker did not take the message (down, unreachable); the event stays unqueued."""


def document_processing_send(*, document_id: int, trigger: str, user_id: int | None = None) -> None:
    """Send `connector.process_document` for one document; QueueRefused when the broker fails."""
    try:
        current_app.send_task(PROCESS_DOCUMENT_TASK,
                              kwargs={"document_id": document_id, "trigger": trigger, "user_id": user_id},
                              retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not queued"; the event is safe in the database
        raise QueueRefused(f"{type(exc).__name__}: {exc}") from exc


def webhook_event_queue(*, event_id: int, document_id: int) -> bool:
    """Queue an accepted event's processing and mark it queued. False (logged) when the broker
    refused: the event stays unqueued for the sweeper."""
    try:
        document_processing_send(document_id=document_id, trigger=Trigger.WEBHOOK)
    except QueueRefused as exc:
        log.warning("webhook event %s not queued, the sweeper will retry: %s", event_id, exc)
        return False
    WebhookEvent.objects.filter(pk=event_id, queued_at__isnull=True).update(queued_at=timezone.now())
    return True


def webhook_events_queue_unqueued(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE,
                                  limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Queue every event older than `grace` whose processing was never queued.

    One sweep at a time (a lock); stops at the first broker failure, since the next would fail
    too. Returns counts: queued, refused (0 or 1), busy (another sweep holds the lock)."""
    now = now or timezone.now()
    counts = {"queued": 0, "refused": 0, "busy": 0}
    with exclusive("billing:webhook-events-sweep") as acquired:
        if not acquired:
            counts["busy"] = 1
            return counts
        pending = (WebhookEvent.objects.filter(queued_at__isnull=True, created_at__lt=now - grace)
                   .order_by("created_at").values_list("pk", "document_id")[:limit])
        for event_id, document_id in pending:
            if not webhook_event_queue(event_id=event_id, document_id=document_id):
                counts["refused"] = 1
                break
            counts["queued"] += 1
    if counts["queued"] or counts["refused"]:
        log.info("webhook sweep: %(queued)d event(s) queued, broker refused: %(refused)d", counts)
    return counts


def webhook_event_replay(*, event: WebhookEvent, user: AbstractBaseUser) -> None:
    """Queue the processing of an event's document again, on a human's request (never run in
    the request). The engine resumes the document where it stopped; QueueRefused when the
    broker is down."""
    document_processing_send(document_id=event.document_id, trigger=Trigger.MANUAL, user_id=user.pk)
    audit_record(tenant=event.tenant, document=event.document, user=user, action="replay_requested",
                 from_state=event.document.state, to_state=event.document.state,
                 reason=f"processing of {event.type} {event.stripe_id} queued from the webhook ledger")
    if event.queued_at is None:
        WebhookEvent.objects.filter(pk=event.pk, queued_at__isnull=True).update(queued_at=timezone.now())
