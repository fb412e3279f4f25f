"""Replay: resume a document at the step that failed, on a human's request or when its
retry is due. Never from scratch, never twice at once (a lock per document)."""
from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from .documents import audit_record
from .locks import exclusive
from .models import Document, DocumentState, Trigger
from .pipeline import document_process

REPLAYABLE = (DocumentState.FAILED, DocumentState.RETRYING, DocumentState.NEEDS_MAPPING,
              DocumentState.RECEIVED, DocumentState.MAPPED)


class ReplayRefused(Exception):
    """The document is not in a state that can be replayed (e.g. already sent)."""


def document_replay(document: Document, *, user: AbstractBaseUser | None, trigger: str = Trigger.MANUAL) -> Document:
    """Resume at `document.step`. A document that finished its flow has nothing to resume."""
    if document.state not in REPLAYABLE or not document.step:
        raise ReplayRefused(f"{document} is {document.get_state_display().lower()}: nothing to resume")
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise ReplayRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        if document.state not in REPLAYABLE or not document.step:
            raise ReplayRefused(f"{document} is {document.get_state_display().lower()}: nothing to resume")
        audit_record(tenant=document.tenant, document=document, user=user, action="replay",
                     from_state=document.state, to_state=document.state,
                     reason=f"resume at step '{document.step}'")
        if trigger == Trigger.MANUAL:
            document.retry_count = 0
        return document_process(document, trigger=trigger, user=user)


def failed_documents_since(*, tenant_ids: list[int] | None, since: datetime, flow: str | None = None) -> QuerySet[Document]:
    qs = Document.objects.filter(state__in=(DocumentState.FAILED, DocumentState.RETRYING), updated_at__gte=since)
    if tenant_ids is not None:
        qs = qs.filter(tenant_id__in=tenant_ids)
    if flow:
        qs = qs.filter(flow=flow)
    return qs


def documents_retry_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Resume every document whose retry is due. Returns how many were resumed."""
    now = now or timezone.now()
    due = list(Document.objects.filter(state=DocumentState.RETRYING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    resumed = 0
    for pk in due:
        document = Document.objects.select_related("tenant").get(pk=pk)
        try:
            document_replay(document, user=None, trigger=Trigger.RETRY)
            resumed += 1
        except ReplayRefused:
            continue
    return resumed
