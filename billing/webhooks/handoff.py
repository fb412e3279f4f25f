"""Handing accepted events to the engine: one document per event, processed by a worker.

The task is sent by name (`connector.process_document`), so billing needs nothing of the
engine's task module. An event is stamped queued in the transaction that inserts it, and the
message is sent right after the commit; if the broker refuses it, the stamp is taken off
again. The sweeper, a periodic task, then sends what has no stamp, and sends again what was
stamped long ago while its document never moved (a crash between commit and send, or a
broker that lost the message). Sending twice is therefore possible and harmless: the engine
takes a lock per document and resumes only unfinished work. Losing one is not possible.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Q
from django.utils import timezone

from connector.documents import audit_record
from connector.locks import exclusive
from connector.models import DocumentState, Trigger

from ..models import WebhookEvent

log = logging.getLogger(__name__)

STRIPE_PAYMENT_FLOW = "stripe-payment"
PROCESS_DOCUMENT_TASK = "connector.process_document"
# An event younger than this may still be on its way to the broker from its own request.
SWEEP_GRACE = timedelta(minutes=1)
# A document still untouched this long after its event was queued: the message is presumed lost.
SWEEP_STALL = timedelta(minutes=15)
STALL_LOOKBACK = timedelta(days=1)
SWEEP_BATCH = 500
# One quick reconnect (a pooled connection gone stale), then give up: the request must answer
# in milliseconds, and the sweeper tries again.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


class QueueRefused(Exception):
    """The broker did not take the message (down, unreachable); the event stays unqueued."""


def document_processing_send(*, document_id: int, trigger: str, user_id: int | None = None) -> None:
    """Send `connector.process_document` for one document; QueueRefused when the broker fails."""
    kwargs = {"document_id": document_id, "trigger": str(trigger), "user_id": user_id}
    try:
        # The representations monitoring shows are given, not derived (Celery's saferepr of the
        # arguments is a tenth of a publish).
        current_app.send_task(PROCESS_DOCUMENT_TASK, kwargs=kwargs, argsrepr="()", kwargsrepr=repr(kwargs),
                              retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not queued"; the event is safe in the database
        raise QueueRefused(f"{type(exc).__name__}: {exc}") from exc


def webhook_event_queue(*, event_id: int, document_id: int) -> bool:
    """Send the processing of an event already stamped queued; when the broker refuses, take
    the stamp off (the sweeper sends it later) and return False."""
    try:
        document_processing_send(document_id=document_id, trigger=Trigger.WEBHOOK)
    except QueueRefused as exc:
        WebhookEvent.objects.filter(pk=event_id).update(queued_at=None)
        log.warning("webhook event %s not queued, the sweeper will retry: %s", event_id, exc)
        return False
    return True


def webhook_events_queue_unqueued(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE,
                                  stall: timedelta = SWEEP_STALL, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Send the processing of events older than `grace` that are not stamped queued, and again
    of those stamped more than `stall` ago whose document is still untouched in `received`.

    One sweep at a time (a lock); each event is stamped before it is sent; the sweep stops at
    the first broker failure, since the next would fail too. Returns counts: queued, stalled
    (of the queued, those sent again), refused (0 or 1), busy (another sweep holds the lock)."""
    now = now or timezone.now()
    counts = {"queued": 0, "stalled": 0, "refused": 0, "busy": 0}
    never = Q(queued_at__isnull=True, created_at__lt=now - grace)
    # Only stamps of the last day are looked at again: the sweep reads an index range, not the
    # whole history, and a minute's sweep sees each stamp cross the `stall` mark many times over.
    stalled = Q(queued_at__lt=now - stall, queued_at__gte=now - stall - STALL_LOOKBACK,
                document__state=DocumentState.RECEIVED, document__updated_at__lte=F("queued_at"))
    with exclusive("billing:webhook-events-sweep") as acquired:
        if not acquired:
            counts["busy"] = 1
            return counts
        pending = (WebhookEvent.objects.filter(never | stalled).order_by("created_at")
                   .values_list("pk", "document_id", "queued_at")[:limit])
        for event_id, document_id, queued_at in pending:
            WebhookEvent.objects.filter(pk=event_id).update(queued_at=now)
            if not webhook_event_queue(event_id=event_id, document_id=document_id):
                counts["refused"] = 1
                break
            counts["queued"] += 1
            counts["stalled"] += queued_at is not None
    if counts["queued"] or counts["refused"]:
        log.info("webhook sweep: %(queued)d event(s) queued (%(stalled)d of them again), broker refused: "
                 "%(refused)d", counts)
    return counts


def webhook_event_replay(*, event: WebhookEvent, user: AbstractBaseUser) -> None:
    """Queue the processing of an event's document again, on a human's request (never run in
    the request). The engine resumes the document where it stopped; QueueRefused when the
    broker is down."""
    document_processing_send(document_id=event.document_id, trigger=Trigger.MANUAL, user_id=user.pk)
    audit_record(tenant=event.tenant, document=event.document, user=user, action="replay_requested",
                 from_state=event.document.state, to_state=event.document.state,
                 reason=f"processing of {event.type} {event.stripe_id} queued from the webhook ledger")
    WebhookEvent.objects.filter(pk=event.pk).update(queued_at=timezone.now())
