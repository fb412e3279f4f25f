"""Handing documents to workers: one `connector.process_document` task per document.

Fan-out is the normal way: a cycle receives and commits documents, then queues one task per
document, and any worker takes it (under the document's lock, paced by the shared per-path
rate limits). Call `documents_queue` only once the documents are committed: the worker that
takes the task may start before this process's transaction would have ended.

Inline is for `manage.py sync` and tests that need a cycle to have finished when it returns:
inside `queue_held()` the same calls collect the work instead of sending it, and the caller
(connector.work.work_inline) runs it in this process.
"""
from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .counts import sync_run_add
from .models import Document, SyncRun, Trigger

# The task's name is its contract: other packages queue it by name.
PROCESS_DOCUMENT = "connector.process_document"


@dataclass(frozen=True)
class QueuedWork:
    document_id: int
    trigger: str
    user_id: int | None


_held: ContextVar[deque[QueuedWork] | None] = ContextVar("connector_held_work", default=None)


@contextlib.contextmanager
def queue_held() -> Iterator[deque[QueuedWork]]:
    """Within the block, queued work is collected here instead of sent to the broker."""
    held: deque[QueuedWork] = deque()
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def documents_queue(document_ids: Iterable[int], *, trigger: str, user: AbstractBaseUser | None = None,
                    run: SyncRun | int | None = None) -> int:
    """Queue one task per document; their outcomes count on `run` when one is given.

    The run is marked on them before their tasks are sent (a worker may finish one before this
    returns, and counts its outcome on that run); "queued" (a cycle does not queue a document
    again while its task is recent) only once every task is on the broker, so a process that
    dies half-way through the sends leaves the unsent ones for the next cycle, not for
    QUEUE_GRACE. Dying after the sends and before the mark queues them twice, which costs a
    task that finds nothing to do."""
    ids = list(dict.fromkeys(document_ids))
    if not ids:
        return 0
    if run is not None:
        Document.objects.filter(pk__in=ids).update(run_id=run if isinstance(run, int) else run.pk)
        sync_run_add(run, {"queued": len(ids)}, queued=len(ids))
    user_id = user.pk if user is not None else None
    held = _held.get()
    if held is not None:
        held.extend(QueuedWork(pk, trigger, user_id) for pk in ids)
    else:
        task = current_app.tasks[PROCESS_DOCUMENT]  # registered by connector.tasks (imported by the app config)
        for pk in ids:
            task.apply_async(kwargs={"document_id": pk, "trigger": trigger, "user_id": user_id})
    Document.objects.filter(pk__in=ids).update(queued_at=timezone.now())
    return len(ids)


def document_queue_retry(document_id: int, *, at: datetime) -> bool:
    """Queue a retry due sooner than the retry schedule's beat (every minute) would take it up:
    one task with that ETA. Inline (queue_held) nothing is queued: the caller runs what it
    holds at once, and the due retry is the beat's (documents_retry_due); nor when tasks run
    eagerly (an ETA means nothing there). True when queued."""
    if _held.get() is not None or current_app.conf.task_always_eager:
        return False
    Document.objects.filter(pk=document_id).update(queued_at=timezone.now())
    current_app.tasks[PROCESS_DOCUMENT].apply_async(
        kwargs={"document_id": document_id, "trigger": Trigger.RETRY, "user_id": None}, eta=at)
    return True


__all__ = ["PROCESS_DOCUMENT", "QueuedWork", "document_queue_retry", "documents_queue", "queue_held"]
