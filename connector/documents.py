"""Services that create documents and move them between states, always with an AuditEvent."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import Tenant

from .locks import exclusive
from .models import AuditEvent, Document, DocumentState
from .summary import document_summarize


def actor_name(user: AbstractBaseUser | None) -> str:
    return user.get_username() if user is not None else "system"


def audit_record(*, tenant: Tenant, action: str, user: AbstractBaseUser | None = None,
                 document: Document | None = None, from_state: str = "", to_state: str = "",
                 reason: str = "") -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant, document=document, actor=actor_name(user), user=user, action=action,
        from_state=from_state, to_state=to_state, reason=reason[:4000],
    )


def document_receive(*, tenant: Tenant, flow: str, external_key: str, raw: str = "", source: str = "",
                     mapped: dict[str, Any] | None = None, user: AbstractBaseUser | None = None,
                     ) -> tuple[Document, bool]:
    """Create the document for (tenant, flow, external key), or return the existing one.

    The unique constraint is the guarantee; this only turns a lost race into a lookup.
    """
    existing = Document.objects.filter(tenant=tenant, flow=flow, external_key=external_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            document = Document(tenant=tenant, flow=flow, external_key=external_key, raw=raw, source=source,
                                mapped=mapped or {}, state=DocumentState.RECEIVED)
            document_summarize(document)
            document.save(force_insert=True)
            audit_record(tenant=tenant, document=document, user=user, action="received",
                         to_state=DocumentState.RECEIVED, reason=source)
    except IntegrityError:
        return Document.objects.get(tenant=tenant, flow=flow, external_key=external_key), False
    return document, True


def documents_receive(*, tenant: Tenant, flow: str, records: list[dict[str, Any]],
                      user: AbstractBaseUser | None = None) -> tuple[int, int]:
    """`document_receive` for a page of records at once (each a dict of external_key, raw,
    source, mapped): one query finds those already there, and the new documents and their
    audit events go in with one commit, not one per record. Returns (new, duplicate).

    A record another process created meanwhile makes the insert fail as a whole: the page is
    then received record by record (the unique constraint is still the guarantee)."""
    by_key = {r["external_key"]: r for r in records}
    known = set(Document.objects.filter(tenant=tenant, flow=flow, external_key__in=list(by_key))
                .values_list("external_key", flat=True))
    fresh = [r for key, r in by_key.items() if key not in known]
    if not fresh:
        return 0, len(records)
    documents = []
    for r in fresh:
        document = Document(tenant=tenant, flow=flow, external_key=r["external_key"], raw=r.get("raw", ""),
                            source=r.get("source", ""), mapped=r.get("mapped") or {}, state=DocumentState.RECEIVED)
        document_summarize(document)
        documents.append(document)
    try:
        with transaction.atomic():
            Document.objects.bulk_create(documents)
            AuditEvent.objects.bulk_create(
                AuditEvent(tenant=tenant, document=d, actor=actor_name(user), user=user, action="received",
                           to_state=DocumentState.RECEIVED, reason=d.source[:4000]) for d in documents)
    except IntegrityError:
        created = sum(document_receive(tenant=tenant, flow=flow, user=user, **r)[1] for r in fresh)
        return created, len(records) - created
    return len(documents), len(records) - len(documents)


def document_transition(document: Document, to_state: str, *, user: AbstractBaseUser | None = None,
                        reason: str = "", action: str = "transition", extra_fields: tuple[str, ...] = ()) -> None:
    """Set the state, save the given fields with it (and the business columns, which follow
    what the document holds), and write the AuditEvent."""
    from_state = document.state
    document.state = to_state
    summary_fields = document_summarize(document)
    with transaction.atomic():
        document.save(update_fields=["state", "updated_at", *extra_fields, *summary_fields])
        audit_record(tenant=document.tenant, document=document, user=user, action=action,
                     from_state=from_state, to_state=to_state, reason=reason)



IGNORABLE = (DocumentState.RECEIVED, DocumentState.MAPPED, DocumentState.NEEDS_MAPPING, DocumentState.RETRYING,
             DocumentState.FAILED, DocumentState.REJECTED, DocumentState.DUPLICATE)
"""States a human may set aside: work left to do, or an end nobody will act on. A document
the outside system has (sent, posted, acknowledged) is not ignored: that would hide it."""


class IgnoreRefused(Exception):
    """The document cannot be ignored (or un-ignored) now; the message says why."""


def document_ignore(*, document: Document, user: AbstractBaseUser, reason: str) -> Document:
    """Set the document aside: no retry, no replay, no cycle takes it up, until undone.

    A human decides this, with a reason, and the audit trail keeps who, when and why; the step
    it would resume at is kept, so `document_unignore` can give it back as it was.
    """
    reason = reason.strip()
    if not reason:
        raise IgnoreRefused("say why the document is ignored: a reason is required")
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise IgnoreRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        if document.state not in IGNORABLE:
            raise IgnoreRefused(f"{document} is {document.get_state_display().lower()}: "
                                "only a document with work left or a failed end can be ignored")
        document.next_attempt_at = None
        document_transition(document, DocumentState.IGNORED, user=user, reason=reason, action="ignored",
                            extra_fields=("next_attempt_at",))
    return document


def document_unignore(*, document: Document, user: AbstractBaseUser, reason: str = "") -> Document:
    """Undo `document_ignore`: the document is back in the state it was ignored from (a retrying
    one is due at once), and replay or the next cycle goes on from its step."""
    with exclusive(f"document:{document.pk}") as acquired:
        if not acquired:
            raise IgnoreRefused(f"{document} is being processed right now; try again in a moment")
        document.refresh_from_db()
        if document.state != DocumentState.IGNORED:
            raise IgnoreRefused(f"{document} is {document.get_state_display().lower()}, not ignored")
        ignored = document.audit_events.filter(to_state=DocumentState.IGNORED).order_by("-at", "-pk")
        previous = next(iter(ignored.values_list("from_state", flat=True)[:1]), "") or DocumentState.FAILED
        document.next_attempt_at = timezone.now() if previous == DocumentState.RETRYING else None
        document_transition(document, previous, user=user, reason=reason.strip() or "ignore undone",
                            action="unignored", extra_fields=("next_attempt_at",))
    return document
