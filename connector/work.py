"""Processing documents: the one service every flow's waiting documents go through.

- `documents_waiting`: a flow's documents with a step still to run that nobody parked
  (new ones, and any a dead worker left half-way);
- `document_work`: process one document under its lock, the body of the
  `connector.process_document` task; a document someone else holds is left to them
  ("busy"); its first outcome is counted once on the run that handed it out (the pipeline
  does it with the document's last write: connector/counts.py);
- `documents_dispatch`: hand a flow's waiting documents to workers (connector.queue);
- `flow_cycle`: one cycle of a flow: receive (its stream, then its own poll), then dispatch;
  `inline=True` runs the dispatched work in this process before returning (`manage.py
  sync`, tests), including documents that the work itself queues (an inbox file's invoices).
"""
from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from .counts import sync_run_add
from .cursors import stream_receive
from .documents import audit_record
from .flows import Flow
from .locks import exclusive
from .models import Document, DocumentState, SyncRun, Trigger
from .pipeline import document_process
from .queue import QueuedWork, documents_queue, queue_held
from .replay import ReplayRefused, document_resume

# Waiting for a human or for its retry time: a cycle leaves these alone.
PARKED = (DocumentState.RETRYING, DocumentState.FAILED, DocumentState.NEEDS_MAPPING, DocumentState.IGNORED)
# A document queued this recently is not queued again by a cycle (its task is on its way).
QUEUE_GRACE = timedelta(minutes=10)
DISPATCH_LIMIT = 10_000
BUSY = "busy"  # another process holds the document
NOTHING = "nothing"  # nothing to run: finished or parked meanwhile, or gone


def documents_waiting(*, tenant_id: int, flow: str) -> QuerySet[Document]:
    """Received documents, and any with a step to run that is not parked (a crash between
    steps leaves one so); finished documents have no step."""
    return Document.objects.filter(tenant_id=tenant_id, flow=flow).filter(
        Q(state=DocumentState.RECEIVED) | (~Q(step="") & ~Q(state__in=PARKED)))


def document_work(*, document_id: int, trigger: str, user: AbstractBaseUser | None = None) -> str:
    """Run one document under its lock; returns its state after, BUSY or NOTHING.

    A document waiting for its next step runs it (whatever the trigger: a scheduled cycle, a
    manual one, a webhook). A human's replay (trigger manual, with the user) or a due retry is
    a replay (connector.replay): it resumes a parked document and writes who asked for it in
    the audit trail; one with nothing to resume says so there too."""
    with exclusive(f"document:{document_id}") as acquired:
        if not acquired:
            return BUSY
        document = Document.objects.select_related("tenant").filter(pk=document_id).first()
        if document is None:
            return NOTHING
        waiting = _is_waiting(document)
        if trigger in (Trigger.MANUAL, Trigger.RETRY) and (user is not None or not waiting):
            try:
                document_resume(document, user=user, trigger=trigger)
            except ReplayRefused as exc:
                if user is not None:  # the page says so: a queued replay never vanishes silently
                    audit_record(tenant=document.tenant, document=document, user=user, action="replay_refused",
                                 from_state=document.state, to_state=document.state, reason=str(exc))
                return NOTHING
        elif waiting:
            document_process(document, trigger=trigger, user=user)
        else:
            return NOTHING
    return document.state


def _is_waiting(document: Document) -> bool:
    return document.state == DocumentState.RECEIVED or (bool(document.step) and document.state not in PARKED)


def documents_dispatch(*, run: SyncRun, flow: Flow, trigger: str, user: AbstractBaseUser | None = None,
                       requeue_recent: bool = False) -> int:
    """Queue every waiting document of the flow for the run's tenant; their outcomes count on
    `run`. Returns how many. Those queued within QUEUE_GRACE are left to the task already on its
    way, unless `requeue_recent` (an inline cycle runs everything waiting: held work dies with
    its process, and a document someone is processing right now is skipped by its lock)."""
    waiting = documents_waiting(tenant_id=run.tenant_id, flow=flow.name).order_by("pk")
    if not requeue_recent:
        waiting = waiting.filter(Q(queued_at__isnull=True) | Q(queued_at__lt=timezone.now() - QUEUE_GRACE))
    ids = list(waiting.values_list("pk", flat=True)[:DISPATCH_LIMIT])
    return documents_queue(ids, trigger=trigger, user=user, run=run)


class InlineWork:
    """Work queued inside `work_inline`, run here by `drain` in the order it was queued."""

    def __init__(self, held: deque[QueuedWork]) -> None:
        self.held = held
        self.outcomes: dict[str, int] = {}

    def drain(self) -> int:
        done = 0
        while self.held:
            item = self.held.popleft()
            user = get_user_model().objects.filter(pk=item.user_id).first() if item.user_id else None
            outcome = document_work(document_id=item.document_id, trigger=item.trigger, user=user)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            done += 1
        return done


@contextlib.contextmanager
def work_inline() -> Iterator[InlineWork]:
    """Within the block, queued documents wait in this process until `drain()` runs them."""
    with queue_held() as held:
        yield InlineWork(held)


def flow_cycle(*, run: SyncRun, flow: Flow, trigger: str, user: AbstractBaseUser | None = None,
               inline: bool = False) -> None:
    """Receive, then dispatch. Documents already waiting are dispatched even when receiving
    failed (a folder that cannot be read must not hold up what was received before); the
    receiving failure is raised afterwards, for the run to record."""
    held = work_inline() if inline else contextlib.nullcontext()
    with held as work:
        failure: Exception | None = None
        try:
            if flow.stream is not None:
                stream_receive(run=run, flow=flow)
            if flow.poll is not None:
                counts = flow.poll(run=run, trigger=trigger, user=user) or {}
                if counts:
                    sync_run_add(run, counts)
        except Exception as exc:  # noqa: BLE001 - recorded by the run once the waiting documents are handed out
            failure = exc
        documents_dispatch(run=run, flow=flow, trigger=trigger, user=user, requeue_recent=inline)
        if work is not None:
            work.drain()
    if failure is not None:
        raise failure


__all__ = ["BUSY", "NOTHING", "PARKED", "QUEUE_GRACE", "InlineWork", "document_work", "documents_dispatch",
           "documents_waiting", "flow_cycle", "work_inline"]
