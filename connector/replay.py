"""Replay: resume a document at the step that failed, on a human's request or when its
retry is due. Never from scratch, never twice at once (a lock per document).

A human's replay is queued (connector.process_document with trigger "manual"), never run
inside a web request: `document_replay` is what the worker (or an inline cycle, or a test)
runs. Effects already confirmed are not made again (connector/effects.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from .documents import audit_record
from .flows import flow_of
from .locks import exclusive
from .models import AuditEvent, Document, DocumentState, Trigger
from .pipeline import document_process
from .queue import documents_queue

REPLAYABLE = (DocumentState.FAILED, DocumentState.RETRYING, DocumentState.NEEDS_MAPPING,
              DocumentState.RECEIVED, DocumentState.MAPPED)


class ReplayRefused(Exception):
    """The document is not in a state that can be replayed (e.g. already sent)."""


def document_replay(document: Document, *, user: AbstractBaseUser | None, trigger: str = Trigger.MANUAL) -> Document:
    """Resume at `document.step`, under the document's lock. A document that finished its flow
    has nothing to resume; one someone else is processing right now is refused too."""
    _refuse_unless_replayable(document)
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise ReplayRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        return document_resume(document, user=user, trigger=trigger)


def document_resume(document: Document, *, user: AbstractBaseUser | None, trigger: str) -> Document:
    """The replay itself, for a caller that already holds the document's lock."""
    _refuse_unless_replayable(document)
    start, why = document.step, ""
    flow = flow_of(document)
    if flow.resume_at is not None and (earlier := flow.resume_at(document)) is not None:
        start, why = earlier
    audit_record(tenant=document.tenant, document=document, user=user, action="replay",
                 from_state=document.state, to_state=document.state,
                 reason=f"resume at step '{start}'" + (f": {why}" if why else ""))
    if trigger == Trigger.MANUAL:
        document.retry_count = 0
    return document_process(document, trigger=trigger, user=user, from_step=start)


def documents_replay_queue(documents: Iterable[Document], *, user: AbstractBaseUser | None,
                           ) -> tuple[list[Document], list[str]]:
    """Queue a replay of each document that has a step to resume (a `replay_queued` audit
    event names who asked); returns those queued and, for the others, why not."""
    queued: list[Document] = []
    refused: list[str] = []
    for document in documents:
        try:
            _refuse_unless_replayable(document)
        except ReplayRefused as exc:
            refused.append(str(exc))
            continue
        audit_record(tenant=document.tenant, document=document, user=user, action="replay_queued",
                     from_state=document.state, to_state=document.state,
                     reason=f"to resume at step '{document.step}'")
        queued.append(document)
    documents_queue([d.pk for d in queued], trigger=Trigger.MANUAL, user=user)
    return queued, refused


REPLAY_ACTIONS = ("replay_queued", "replay", "replay_refused")


def replay_outcome(document: Document) -> str:
    """What became of the latest replay someone asked for, in words for the document page:
    still queued, or what state the document ended in (with the error, if it did not go)."""
    event = (AuditEvent.objects.filter(document=document, action__in=REPLAY_ACTIONS)
             .order_by("-at", "-id").first())
    if event is None:
        return ""
    when = f"{event.at:%Y-%m-%d %H:%M:%S} UTC"
    if event.action == "replay_queued":
        return f"Replay queued by {event.actor} at {when}: waiting for a worker."
    if event.action == "replay_refused":
        return f"Replay by {event.actor} at {when} not run: {event.reason}"
    state = document.get_state_display().lower()
    if document.state in (DocumentState.RETRYING, DocumentState.FAILED, DocumentState.NEEDS_MAPPING):
        return f"Replayed by {event.actor} at {when}; it did not go through and is now {state}: {document.last_error}"
    return f"Replayed by {event.actor} at {when}; now {state}."


def _refuse_unless_replayable(document: Document) -> None:
    if document.state not in REPLAYABLE or not document.step:
        raise ReplayRefused(f"{document} is {document.get_state_display().lower()}: nothing to resume")


def failed_documents_since(*, tenant_ids: list[int] | None, since: datetime, flow: str | None = None) -> QuerySet[Document]:
    qs = Document.objects.filter(state__in=(DocumentState.FAILED, DocumentState.RETRYING), updated_at__gte=since)
    if tenant_ids is not None:
        qs = qs.filter(tenant_id__in=tenant_ids)
    if flow:
        qs = qs.filter(flow=flow)
    return qs


def documents_retry_due(*, now: datetime | None = None, limit: int = 200, queue: bool = False,
                        queued_before: datetime | None = None) -> int:
    """Resume every document whose retry is due: here, one by one (queue=False, for tests and
    commands), or as one task each for the workers (queue=True, the beat task). Returns how
    many were resumed or queued. Queued ones are not queued again before `queued_before`."""
    now = now or timezone.now()
    due = Document.objects.filter(state=DocumentState.RETRYING, next_attempt_at__lte=now)
    if queue:
        if queued_before is not None:
            due = due.filter(Q(queued_at__isnull=True) | Q(queued_at__lt=queued_before))
        ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
        return documents_queue(ids, trigger=Trigger.RETRY)
    resumed = 0
    for pk in list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]):
        document = Document.objects.select_related("tenant").get(pk=pk)
        try:
            document_replay(document, user=None, trigger=Trigger.RETRY)
            resumed += 1
        except ReplayRefused:
            continue
    return resumed
