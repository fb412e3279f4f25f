"""Services that create documents and move them between states, always with an AuditEvent."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from tenants.models import Tenant

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

