"""Ignore and un-ignore: a human says a failing document needs nothing more (with a reason,
audited), or takes that back. For one document, and for every document of a group.

The engine's own services (`document_ignore` / `document_unignore` in connector.documents,
branch `hardening`) are used when present; until that branch is merged, the fallbacks below
do the same through connector.documents.document_transition, which audits every change.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from connector import documents as engine
from connector.models import AuditEvent, Document, DocumentState

from .models import FailureGroup, GroupMember
from .triage import groups_recount

IGNORABLE = (DocumentState.FAILED, DocumentState.RETRYING, DocumentState.NEEDS_MAPPING, DocumentState.REJECTED)
IGNORED_ACTION = "ignored"
UNIGNORED_ACTION = "unignored"


class IgnoreRefused(Exception):
    """No reason given, or the document is not in a state a human may ignore or restore."""


def _fallback_ignore(document: Document, *, user: AbstractBaseUser | None, reason: str) -> None:
    if document.state not in IGNORABLE:
        raise IgnoreRefused(f"{document} is {document.get_state_display().lower()}: only failures can be ignored")
    document.next_attempt_at = None
    engine.document_transition(document, DocumentState.IGNORED, user=user, reason=reason, action=IGNORED_ACTION,
                               extra_fields=("next_attempt_at",))


def _fallback_unignore(document: Document, *, user: AbstractBaseUser | None, reason: str = "") -> None:
    if document.state != DocumentState.IGNORED:
        raise IgnoreRefused(f"{document} is {document.get_state_display().lower()}, not ignored")
    ignored = (AuditEvent.objects.filter(document=document, action=IGNORED_ACTION, to_state=DocumentState.IGNORED)
               .order_by("-at", "-id").values_list("from_state", flat=True).first())
    back_to = ignored if ignored in IGNORABLE else DocumentState.FAILED
    engine.document_transition(document, back_to, user=user, reason=reason or "un-ignored", action=UNIGNORED_ACTION)


def document_ignore(document: Document, *, user: AbstractBaseUser | None, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise IgnoreRefused("say why the document is ignored: a reason is required")
    (getattr(engine, "document_ignore", None) or _fallback_ignore)(document, user=user, reason=reason)


def document_unignore(document: Document, *, user: AbstractBaseUser | None, reason: str = "") -> None:
    (getattr(engine, "document_unignore", None) or _fallback_unignore)(document, user=user, reason=reason.strip())


def failure_group_ignore(*, group: FailureGroup, user: AbstractBaseUser | None, reason: str) -> tuple[int, list[str]]:
    """Ignore every open document of the group. Returns how many, and why others were not."""
    if not reason.strip():
        raise IgnoreRefused("say why these documents are ignored: a reason is required")
    return _each_member(group, ignored=False, user=user,
                        act=lambda d: document_ignore(d, user=user, reason=f"{reason.strip()} (group {group.pk})"))


def failure_group_unignore(*, group: FailureGroup, user: AbstractBaseUser | None, reason: str = "") -> tuple[int, list[str]]:
    """Bring back every document of the group that was ignored."""
    why = reason.strip() or f"un-ignored with group {group.pk}"
    return _each_member(group, ignored=True, user=user, act=lambda d: document_unignore(d, user=user, reason=why))


def _each_member(group: FailureGroup, *, ignored: bool, user, act) -> tuple[int, list[str]]:
    done, refused = 0, []
    members = list(GroupMember.objects.filter(group=group, ignored=ignored).values_list("pk", "document_id"))
    for _member_pk, document_id in members:
        document = Document.objects.select_related("tenant").get(pk=document_id)
        try:
            with transaction.atomic():
                act(document)
                # Every group the document is in: a needs-mapping document may wait on several things.
                GroupMember.objects.filter(document_id=document_id).update(ignored=not ignored, seen_at=timezone.now())
            done += 1
        except IgnoreRefused as exc:
            refused.append(str(exc))
    groups_recount(GroupMember.objects.filter(document_id__in=[d for _, d in members]).values_list("group_id", flat=True)
                   .distinct(), now=timezone.now())
    return done, refused
