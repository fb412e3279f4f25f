"""Handing accepted events to the engine: one document per event, processed by a worker.

The request inserts the event alone (an outbox row, no document) and nudges the drain:
`billing.drain_webhook_events`, run by a worker, makes each waiting event's document
(`connector.documents.document_receive`: the unique (tenant, flow, external key) makes it
once, whatever the number of drains, duplicates or redelivered nudges), stamps the event
queued and sends `connector.process_document` by name (billing needs nothing of the
engine's task module) for each document it made. If the broker refuses, the stamp is taken
off again. Nudges are thrown from a thread of the web process, at most one per
NUDGE_INTERVAL per process, always after the commit they follow (a nudge asked for while
one is being sent is sent again), so the request never waits for the broker and a burst of
events costs a handful of messages.

The sweeper, a periodic task, is the net under all of it: it drains what no nudge reached
(the broker down, the web process gone), sends what has no stamp, and sends again what was
stamped long ago while its document never moved (a crash between commit and send, or a
broker that lost the message). Sending twice is therefore possible and harmless: the engine
takes a lock per document and resumes only unfinished work. Losing one is not possible.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connector.documents import actor_name, audit_record, document_receive
from connector.locks import exclusive
from connector.models import AuditEvent, Document, DocumentState, Trigger
from connector.summary import document_summarize

from ..models import WebhookDelivery, WebhookEvent

log = logging.getLogger(__name__)

STRIPE_PAYMENT_FLOW = "stripe-payment"
PROCESS_DOCUMENT_TASK = "connector.process_document"
DRAIN_TASK = "billing.drain_webhook_events"
# At most one nudge per process this often (seconds): under load a drain takes hundreds of
# events at a time, and one more nudge would find nothing new.
NUDGE_INTERVAL = 0.2
# False: nudges are sent in the calling thread (tests, whose fake broker runs the drain).
NUDGE_IN_BACKGROUND = True
DRAIN_BATCH = 500
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


def document_processing_send(*, document_id: int, trigger: str, user_id: int | None = None,
                             producer: Any = None) -> None:
    """Send `connector.process_document` for one document (through `producer`, one a batch
    shares, when given); QueueRefused when the broker fails."""
    kwargs = {"document_id": document_id, "trigger": str(trigger), "user_id": user_id}
    try:
        # The representations monitoring shows are given, not derived (Celery's saferepr of the
        # arguments is a tenth of a publish).
        current_app.send_task(PROCESS_DOCUMENT_TASK, kwargs=kwargs, argsrepr="()", kwargsrepr=repr(kwargs),
                              retry=True, retry_policy=PUBLISH_RETRY, **({"producer": producer} if producer else {}))
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not queued"; the event is safe in the database
        raise QueueRefused(f"{type(exc).__name__}: {exc}") from exc


def drain_nudge_send() -> None:
    """Ask a worker to drain the outbox; QueueRefused when the broker fails."""
    try:
        current_app.send_task(DRAIN_TASK, argsrepr="()", kwargsrepr="{}", retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper drains later
        raise QueueRefused(f"{type(exc).__name__}: {exc}") from exc


class _Nudger:
    """One thread per process sends the nudges: `nudge()` only sets a flag. The thread clears
    the flag before it sends, so a nudge asked for during a send is sent again after it."""

    def __init__(self) -> None:
        self.wanted = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def nudge(self) -> None:
        self.wanted.set()
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():  # first use, or after a fork
                    self.thread = threading.Thread(target=self._run, name="webhook-drain-nudger", daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                drain_nudge_send()
            except QueueRefused as exc:
                log.warning("webhook drain not nudged, the sweeper will drain: %s", exc)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("webhook drain nudge failed, the sweeper will drain")
            time.sleep(NUDGE_INTERVAL)


_nudger = _Nudger()


def webhook_events_nudge() -> None:
    """After an event's commit: have a worker make its document and queue its processing soon.
    Never raises and never waits for the broker (NUDGE_IN_BACKGROUND)."""
    if NUDGE_IN_BACKGROUND:
        _nudger.nudge()
        return
    try:
        drain_nudge_send()
    except QueueRefused as exc:
        log.warning("webhook drain not nudged, the sweeper will drain: %s", exc)


def webhook_events_drain(*, limit: int = DRAIN_BATCH) -> dict[str, int]:
    """Make the document of every event still waiting for one, stamp them queued and send the
    processing of each document made here; batches of `limit` until none is left or the
    broker refuses. Concurrent drains share the work (rows taken are skipped by the others).
    Returns counts: documents (made here), queued (sent), refused (0 or 1)."""
    counts = {"documents": 0, "queued": 0, "refused": 0}
    while True:
        made, taken = _drain_batch(limit)
        counts["documents"] += len(made)
        with current_app.producer_or_acquire() as producer:  # one for the batch
            for n, (event_id, document_id) in enumerate(made):
                if not webhook_event_queue(event_id=event_id, document_id=document_id, producer=producer):
                    WebhookEvent.objects.filter(pk__in=[e for e, _ in made[n + 1:]]).update(queued_at=None)
                    counts["refused"] = 1
                    return counts
                counts["queued"] += 1
        if taken < limit:
            return counts


def _drain_batch(limit: int) -> tuple[list[tuple[int, int]], int]:
    """One transaction: up to `limit` waiting events get their document. Returns the (event,
    document) pairs whose document was made here, and how many events were taken.

    What `document_receive` does for one, done for the batch: the documents that exist read in
    one query, the new ones (summarized by the engine's hook) and their "received" audit
    events inserted in two; should another drain have made one meanwhile (the unique key
    refuses the batch), `document_receive` one by one decides."""
    with transaction.atomic():
        # NO KEY UPDATE: a delivery being inserted holds its event's row FOR KEY SHARE (the
        # foreign key check), which a plain FOR UPDATE would wait for or, here, skip.
        events = list(WebhookEvent.objects.filter(document__isnull=True).select_related("tenant").order_by("pk")
                      .select_for_update(skip_locked=True, no_key=True, of=("self",))[:limit])
        if not events:
            return [], 0
        bodies: dict[int, bytes] = {}
        # The event's raw JSON is the body of the delivery that carried it first (a verified one).
        for event_id, body in (WebhookDelivery.objects.filter(event_id__in=[e.pk for e in events], verified=True)
                               .order_by("event_id", "pk").values_list("event_id", "body")):
            bodies.setdefault(event_id, bytes(body))
        documents: dict[tuple[int, str], int] = {
            (tenant_id, key): pk for tenant_id, key, pk in Document.objects.filter(
                flow=STRIPE_PAYMENT_FLOW, tenant_id__in={e.tenant_id for e in events},
                external_key__in={e.stripe_id for e in events}).values_list("tenant_id", "external_key", "pk")}
        new: dict[tuple[int, str], Document] = {}
        for event in events:
            key = (event.tenant_id, event.stripe_id)
            if key not in documents and key not in new:
                document = Document(tenant=event.tenant, flow=STRIPE_PAYMENT_FLOW, external_key=event.stripe_id,
                                    raw=bodies.get(event.pk, b"").decode("utf-8", "replace"), mapped={},
                                    source=f"Stripe {event.type} (webhook event)", state=DocumentState.RECEIVED)
                document_summarize(document)
                new[key] = document
        made_keys: set[tuple[int, str]] = set()
        if new:
            try:
                with transaction.atomic():
                    Document.objects.bulk_create(new.values())
                    AuditEvent.objects.bulk_create(
                        AuditEvent(tenant_id=d.tenant_id, document=d, actor=actor_name(None), action="received",
                                   to_state=DocumentState.RECEIVED, reason=d.source) for d in new.values())
                made_keys = set(new)
                documents.update((key, d.pk) for key, d in new.items())
            except IntegrityError:  # another drain made one of them meanwhile
                for key, d in new.items():
                    document, created = document_receive(tenant=d.tenant, flow=STRIPE_PAYMENT_FLOW, external_key=key[1],
                                                         raw=d.raw, source=d.source)
                    documents[key] = document.pk
                    if created:
                        made_keys.add(key)
        now = timezone.now()
        made = []
        for event in events:
            key = (event.tenant_id, event.stripe_id)
            event.document_id, event.queued_at = documents[key], now
            # A document another endpoint's event made is that event's to send.
            if key in made_keys:
                made.append((event.pk, event.document_id))
                made_keys.discard(key)
        WebhookEvent.objects.bulk_update(events, ["document", "queued_at"])
    return made, len(events)


def webhook_event_queue(*, event_id: int, document_id: int, producer: Any = None) -> bool:
    """Send the processing of an event already stamped queued; when the broker refuses, take
    the stamp off (the sweeper sends it later) and return False."""
    try:
        document_processing_send(document_id=document_id, trigger=Trigger.WEBHOOK, producer=producer)
    except QueueRefused as exc:
        WebhookEvent.objects.filter(pk=event_id).update(queued_at=None)
        log.warning("webhook event %s not queued, the sweeper will retry: %s", event_id, exc)
        return False
    return True


def webhook_events_queue_unqueued(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE,
                                  stall: timedelta = SWEEP_STALL, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Drain the events still waiting for their document (no nudge reached a worker); then send
    the processing of events older than `grace` that are not stamped queued, and again of those
    stamped more than `stall` ago whose document is still untouched in `received`.

    One sweep at a time (a lock); each event is stamped before it is sent; the sweep stops at
    the first broker failure, since the next would fail too. Returns counts: drained (documents
    made), queued (including the drained ones sent), stalled (of the queued, those sent again),
    refused (0 or 1), busy (another sweep holds the lock)."""
    now = now or timezone.now()
    counts = {"drained": 0, "queued": 0, "stalled": 0, "refused": 0, "busy": 0}
    never = Q(queued_at__isnull=True, created_at__lt=now - grace, document__isnull=False)
    # Only stamps of the last day are looked at again: the sweep reads an index range, not the
    # whole history, and a minute's sweep sees each stamp cross the `stall` mark many times over.
    stalled = Q(queued_at__lt=now - stall, queued_at__gte=now - stall - STALL_LOOKBACK,
                document__state=DocumentState.RECEIVED, document__updated_at__lte=F("queued_at"))
    with exclusive("billing:webhook-events-sweep") as acquired:
        if not acquired:
            counts["busy"] = 1
            return counts
        drained = webhook_events_drain(limit=limit)
        counts["drained"], counts["queued"], counts["refused"] = drained["documents"], drained["queued"], drained["refused"]
        pending = (WebhookEvent.objects.filter(never | stalled).order_by("created_at")
                   .values_list("pk", "document_id", "queued_at")[:limit]) if not counts["refused"] else []
        for event_id, document_id, queued_at in pending:
            WebhookEvent.objects.filter(pk=event_id).update(queued_at=now)
            if not webhook_event_queue(event_id=event_id, document_id=document_id):
                counts["refused"] = 1
                break
            counts["queued"] += 1
            counts["stalled"] += queued_at is not None
    if counts["drained"] or counts["queued"] or counts["refused"]:
        log.info("webhook sweep: %(drained)d document(s) made, %(queued)d event(s) queued (%(stalled)d of them "
                 "again), broker refused: %(refused)d", counts)
    return counts


def webhook_event_replay(*, event: WebhookEvent, user: AbstractBaseUser) -> None:
    """Queue the processing of an event's document again, on a human's request (never run in
    the request). The engine resumes the document where it stopped; QueueRefused when the
    broker is down."""
    if event.document_id is None:  # not drained yet: make its document first
        webhook_events_drain()
        event.refresh_from_db()
    document_processing_send(document_id=event.document_id, trigger=Trigger.MANUAL, user_id=user.pk)
    audit_record(tenant=event.tenant, document=event.document, user=user, action="replay_requested",
                 from_state=event.document.state, to_state=event.document.state,
                 reason=f"processing of {event.type} {event.stripe_id} queued from the webhook ledger")
    WebhookEvent.objects.filter(pk=event.pk).update(queued_at=timezone.now())
