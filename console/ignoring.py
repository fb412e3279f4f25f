"""Ignore and un-ignore every document of a failure group: a human says these failures need
nothing more (with a reason, audited), or takes that back. One document at a time goes
through the engine's own services (connector.documents.document_ignore / document_unignore),
which take the document's lock and write the audit trail.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from connector.documents import IgnoreRefused, document_ignore, document_unignore
from connector.models import Document

from .models import FailureGroup, GroupMember
from .triage import groups_recount

__all__ = ["IgnoreRefused", "failure_group_ignore", "failure_group_unignore"]


def failure_group_ignore(*, group: FailureGroup, user: AbstractBaseUser | None, reason: str) -> tuple[int, list[str]]:
    """Ignore every open document of the group. Returns how many, and why others were not."""
    if not reason.strip():
        raise IgnoreRefused("say why these documents are ignored: a reason is required")
    return _each_member(group, ignored=False, user=user,
                        act=lambda d: document_ignore(document=d, user=user, reason=f"{reason.strip()} (group {group.pk})"))


def failure_group_unignore(*, group: FailureGroup, user: AbstractBaseUser | None, reason: str = "") -> tuple[int, list[str]]:
    """Bring back every document of the group that was ignored."""
    why = reason.strip() or f"un-ignored with group {group.pk}"
    return _each_member(group, ignored=True, user=user, act=lambda d: document_unignore(document=d, user=user, reason=why))


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
