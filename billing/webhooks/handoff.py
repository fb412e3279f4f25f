"""Handing accepted events to the engine: one drain service, two triggers.

The request inserts the event alone (an outbox row, no document). One service,
`webhook_events_drain`, does everything after that: it makes each waiting event's document
(`connector.documents.document_receive`'s work, batched: the unique (tenant, flow, external
key) makes it once, whatever the number of drains, duplicates or redelivered triggers),
stamps the event queued in the same transaction, then sends `connector.process_document` by
name (billing needs nothing of the engine's task module) for each document it made. If the
broker refuses, the stamps of what was not sent are taken off again.

Two triggers run it, each a thin Celery task in billing/tasks.py:
- the nudge, after the commit of a new event: a thread of the web process sends
  `billing.drain_webhook_events`, at most one per NUDGE_INTERVAL per process, always after
  the commit it follows (a nudge asked for while one is being sent is sent again), so the
  request never waits for the broker and a burst of events costs a handful of messages;
- the sweep, every minute (`billing.queue_unqueued_webhook_events`, one at a time under a
  lock): the same drain, so it makes what no nudge reached (the broker down, the web
  process gone), plus the sweep's own part: sending what has no stamp (a refused send), and
  again what was stamped long ago while its document never moved (a crash between commit
  and send, or a broker that lost the message).

Sending twice is therefore possible and harmless: the engine takes a lock per document and
resumes only unfinished work. Losing one is not possible: an event is on disk before the
request answers, and until its document has moved the sweep keeps sending it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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
# An event with a document but no stamp (its send was refused) is sent again by the sweep once
# this old: a drain sending it right now is left to finish.
SWEEP_GRACE = timedelta(minutes=1)
# A document still untouched this long after its event was queued: the message is presumed lost.
SWEEP_STALL = timedelta(minutes=15)
STALL_LOOKBACK = timedelta(days=1)
SWEEP_LOCK = "billing:webhook-events-sweep"
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


class Nudger:
    """The nudge trigger: one thread per process sends the drain's task; `nudge()` only sets a
    flag (the request never waits for the broker). The thread clears the flag before it sends,
    so a nudge asked for during a send is sent again after it; between two sends it pauses
    `interval` seconds, folding a burst into a handful of messages. `send` and `pause` are the
    broker and the clock (tests give their own)."""

    def __init__(self, send: Callable[[], None] | None = None, *, interval: float | None = None,
                 pause: Callable[[float], None] = time.sleep) -> None:
        self.send = send or (lambda: drain_nudge_send())
        self.interval = NUDGE_INTERVAL if interval is None else interval
        self.pause = pause
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
                self.send()
            except QueueRefused as exc:
                log.warning("webhook drain not nudged, the sweeper will drain: %s", exc)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("webhook drain nudge failed, the sweeper will drain")
            self.pause(self.interval)


_nudger = Nudger()


def webhook_events_nudge() -> None:
    """Trigger one, after an event's commit: have a worker drain the outbox soon. Never raises
    and never waits for the broker (NUDGE_IN_BACKGROUND)."""
    if NUDGE_IN_BACKGROUND:
        _nudger.nudge()
        return
    try:
        drain_nudge_send()
    except QueueRefused as exc:
        log.warning("webhook drain not nudged, the sweeper will drain: %s", exc)


def webhook_events_drain(*, sweep: bool = False, now: datetime | None = None,
                         limit: int = DRAIN_BATCH) -> dict[str, int]:
    """The drain, what both triggers run: make the document of every event still waiting for
    one and stamp it queued (batches of `limit`, concurrent drains sharing the work: rows taken
    are skipped by the others); with `sweep` (the periodic trigger, one at a time under a lock)
    also stamp again the events older than SWEEP_GRACE never stamped (a refused send) and those
    stamped more than SWEEP_STALL ago whose document is still untouched; then send the
    processing of everything stamped here. The first broker refusal stops it: what was not
    sent is unstamped, for the next sweep.

    Returns counts: documents (made here), queued (sent), stalled (of the queued, sent again
    after a stall), refused (0 or 1), busy (a sweep found another sweep at work)."""
    counts = {"documents": 0, "queued": 0, "stalled": 0, "refused": 0, "busy": 0}
    if not sweep:
        _documents_make_and_send(counts, limit)
        return counts
    with exclusive(SWEEP_LOCK) as acquired:
        if not acquired:
            counts["busy"] = 1
            return counts
        _documents_make_and_send(counts, limit)
        if not counts["refused"]:
            _stamp_again_and_send(counts, now or timezone.now(), limit)
    if counts["documents"] or counts["queued"] or counts["refused"]:
        log.info("webhook sweep: %(documents)d document(s) made, %(queued)d event(s) queued (%(stalled)d of them "
                 "again), broker refused: %(refused)d", counts)
    return counts


def _documents_make_and_send(counts: dict[str, int], limit: int) -> None:
    while True:
        made, taken = _drain_batch(limit)
        counts["documents"] += len(made)
        sent = _send_stamped(made)
        counts["queued"] += sent
        if sent < len(made):
            counts["refused"] = 1
            return
        if taken < limit:
            return


def _stamp_again_and_send(counts: dict[str, int], now: datetime, limit: int) -> None:
    """The sweep's own part: events with a document that no send reached, or whose send was
    lost (only stamps of the last day are looked at again: an index range, not the history)."""
    never = Q(queued_at__isnull=True, created_at__lt=now - SWEEP_GRACE, document__isnull=False)
    stalled = Q(queued_at__lt=now - SWEEP_STALL, queued_at__gte=now - SWEEP_STALL - STALL_LOOKBACK,
                document__state=DocumentState.RECEIVED, document__updated_at__lte=F("queued_at"))
    pending = list(WebhookEvent.objects.filter(never | stalled).order_by("created_at")
                   .values_list("pk", "document_id", "queued_at")[:limit])
    if not pending:
        return
    WebhookEvent.objects.filter(pk__in=[pk for pk, _, _ in pending]).update(queued_at=now)  # stamped before sent
    sent = _send_stamped([(pk, document_id) for pk, document_id, _ in pending])
    counts["queued"] += sent
    counts["stalled"] += sum(queued_at is not None for _, _, queued_at in pending[:sent])
    if sent < len(pending):
        counts["refused"] = 1


def _send_stamped(pairs: list[tuple[int, int]]) -> int:
    """Send the processing of each (event, document), already stamped queued, through one
    producer; at the first refusal unstamp that event and the rest. Returns how many were sent."""
    if not pairs:
        return 0
    with current_app.producer_or_acquire() as producer:  # one for the batch
        for n, (event_id, document_id) in enumerate(pairs):
            try:
                document_processing_send(document_id=document_id, trigger=Trigger.WEBHOOK, producer=producer)
            except QueueRefused as exc:
                WebhookEvent.objects.filter(pk__in=[e for e, _ in pairs[n:]]).update(queued_at=None)
                log.warning("%d webhook event(s) not queued (the first: event %s), the sweeper will retry: %s",
                            len(pairs) - n, event_id, exc)
                return n
    return len(pairs)


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
