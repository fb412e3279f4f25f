"""Failures grouped into issues a human can act on once, instead of one document at a time.

A periodic pass (console.tasks.triage) reads the documents whose state changed since its last
pass and puts each where it belongs now: a failed or retrying document in the group of its
flow, step and folded error; a needs-mapping document in one group per thing it waits on; an
ignored one stays, flagged, in the groups it was in; any other leaves its groups. Groups whose
last document left are resolved, and open again if a document fails that way later.

"Changed since" is read from the audit trail: every change of state writes an AuditEvent,
and AuditEvent.at is indexed, so a pass costs what changed, not the size of the table. The
first pass takes the documents failing now instead of the whole history. A pass re-reads a
few minutes before its mark, so an event committed late by a slow transaction is not
missed; placing a document twice is harmless (the pass is idempotent per document).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from connector.models import AuditEvent, Document, DocumentState

from .fingerprint import error_pattern, fingerprint
from .models import FailureGroup, GroupKind, GroupMember, GroupStatus, PassMark

FAILING = (DocumentState.FAILED, DocumentState.RETRYING)
GROUPED = (*FAILING, DocumentState.NEEDS_MAPPING)
TRIAGE_MARK = "triage"
LOOKBACK = timedelta(minutes=5)
BATCH_SIZE = 500
MAX_BATCHES_PER_PASS = 40
ERROR_CHARS = 2000


@dataclass(frozen=True)
class GroupKey:
    """Where a document belongs: the group's identity and what it says."""

    tenant_id: int
    flow: str
    step: str
    kind: str
    fingerprint: str
    pattern: str
    missing_kind: str = ""
    missing_value: str = ""
    missing_label: str = ""

    @property
    def identity(self) -> tuple[int, str, str, str]:
        return (self.tenant_id, self.flow, self.step, self.fingerprint)


def waiting_on(mapped: dict[str, Any], last_error: str) -> list[tuple[str, str, str, str]]:
    """What a needs-mapping document waits on, as (kind, value, label, message).

    Flows say it in `mapped["missing"]` (810-ap: one item per vendor, project or account to
    map); ar-810 parks an invoice whose client has no trading partner with `mapped["client"]`."""
    items = []
    for item in mapped.get("missing") or []:
        if isinstance(item, dict) and (item.get("kind") or item.get("source_value")):
            value = str(item.get("source_value", ""))
            items.append((str(item.get("kind", "")), value, value, str(item.get("message", "") or last_error)))
    if items:
        return items
    client = mapped.get("client")
    if isinstance(client, dict) and client.get("client_id"):
        code = client.get("code") or client["client_id"]
        label = f"{client['name']} ({code})" if client.get("name") else str(code)
        return [("client", str(client["client_id"]), label, last_error)]
    return []


def document_group_keys(document: Document, mapped: dict[str, Any] | None = None) -> list[GroupKey]:
    """The groups a document belongs in now (none when it is not failing)."""
    base = {"tenant_id": document.tenant_id, "flow": document.flow, "step": document.step}
    if document.state == DocumentState.NEEDS_MAPPING:
        keys = [GroupKey(**base, kind=GroupKind.MAPPING, fingerprint=fingerprint("mapping", kind, value.lower()),
                         pattern=message[:ERROR_CHARS], missing_kind=kind, missing_value=value[:200],
                         missing_label=label[:200])
                for kind, value, label, message in waiting_on(mapped or {}, document.last_error)]
        if keys:
            return list({key.identity: key for key in keys}.values())
        pattern = error_pattern(document.last_error or "needs a mapping")
        return [GroupKey(**base, kind=GroupKind.MAPPING, fingerprint=fingerprint("mapping-error", pattern),
                         pattern=pattern)]
    if document.state in FAILING:
        pattern = error_pattern(document.last_error or f"{document.get_state_display()} with no error recorded")
        return [GroupKey(**base, kind=GroupKind.FAILURE, fingerprint=fingerprint("failure", pattern), pattern=pattern)]
    return []


@dataclass
class TriageReport:
    documents: int = 0
    joined: int = 0
    left: int = 0
    groups_opened: list[int] = field(default_factory=list)
    groups_resolved: list[int] = field(default_factory=list)


def triage_pass(*, now: datetime | None = None, batch_size: int = BATCH_SIZE,
                max_batches: int = MAX_BATCHES_PER_PASS) -> TriageReport:
    """Place every document changed since the last pass. At most `max_batches` batches past
    the mark per call (re-reading the lookback window does not count, or a burst inside it
    could hold the mark back for good); the mark moves after each batch, so the next pass
    resumes where this one stopped."""
    now = now or timezone.now()
    report = TriageReport()
    mark, _ = PassMark.objects.get_or_create(name=TRIAGE_MARK)
    if mark.at is None:
        return _first_pass(mark, now=now, report=report, batch_size=batch_size, max_batches=max_batches)
    last_at, last_id = mark.at - LOOKBACK, 0
    forward = 0
    while forward < max_batches:
        events = list(AuditEvent.objects.filter(document__isnull=False)
                      .filter(Q(at__gt=last_at) | Q(at=last_at, id__gt=last_id))
                      .order_by("at", "id").values_list("id", "at", "document_id")[:batch_size])
        if not events:
            break
        last_id, last_at, _doc = events[-1]
        with transaction.atomic():
            documents_place({doc for _, _, doc in events}, now=now, report=report)
            if last_at > mark.at:
                PassMark.objects.filter(pk=mark.pk).update(at=last_at, last_id=last_id)
                forward += 1
        if len(events) < batch_size:
            break
    return report


def _first_pass(mark: PassMark, *, now: datetime, report: TriageReport, batch_size: int,
                max_batches: int) -> TriageReport:
    """No mark yet: group what is failing now, then read the audit trail from here on."""
    after = mark.last_id
    for _ in range(max_batches):
        ids = list(Document.objects.filter(state__in=(*GROUPED, DocumentState.IGNORED), pk__gt=after)
                   .order_by("pk").values_list("pk", flat=True)[:batch_size])
        with transaction.atomic():
            if ids:
                documents_place(ids, now=now, report=report)
                after = ids[-1]
            done = len(ids) < batch_size
            PassMark.objects.filter(pk=mark.pk).update(last_id=after, at=now if done else None)
        if done:
            break
    return report


def documents_place(document_ids: Iterable[int], *, now: datetime, report: TriageReport | None = None) -> TriageReport:
    """Put each document in the groups it belongs in now and recount the groups touched."""
    report = report or TriageReport()
    ids = list(document_ids)
    documents = list(Document.objects.filter(pk__in=ids)
                     .only("id", "tenant_id", "flow", "state", "step", "failure_kind", "last_error"))
    report.documents += len(documents)
    waiting = [d.pk for d in documents if d.state == DocumentState.NEEDS_MAPPING]
    mapped = dict(Document.objects.filter(pk__in=waiting).values_list("pk", "mapped")) if waiting else {}
    members: dict[int, list[GroupMember]] = {}
    for member in GroupMember.objects.filter(document_id__in=ids):
        members.setdefault(member.document_id, []).append(member)
    groups: dict[tuple[int, str, str, str], FailureGroup] = {}
    touched: set[int] = set()
    joining: list[GroupMember] = []
    joined: dict[int, int] = {}
    latest: dict[int, tuple[str, str]] = {}  # group id → (error, failure kind) of its latest document
    for document in documents:
        current = members.get(document.pk, [])
        if document.state == DocumentState.IGNORED:
            stale = [m.pk for m in current if not m.ignored]
            if stale:
                GroupMember.objects.filter(pk__in=stale).update(ignored=True, seen_at=now)
                touched.update(m.group_id for m in current)
            continue
        wanted: set[int] = set()
        for key in document_group_keys(document, mapped.get(document.pk)):
            group = groups.get(key.identity) or _group_for(key, document, now=now)
            groups[key.identity] = group
            wanted.add(group.pk)
        leaving = [m for m in current if m.group_id not in wanted]
        if leaving:
            GroupMember.objects.filter(pk__in=[m.pk for m in leaving]).delete()
            report.left += len(leaving)
            touched.update(m.group_id for m in leaving)
        present = {m.group_id: m for m in current}
        error = document.last_error[:ERROR_CHARS]
        for group_id in wanted:
            member = present.get(group_id)
            if member is None:
                joining.append(GroupMember(group_id=group_id, document_id=document.pk, error=error, joined_at=now,
                                           seen_at=now))
                joined[group_id] = joined.get(group_id, 0) + 1
            elif member.error != error or member.ignored:
                GroupMember.objects.filter(pk=member.pk).update(error=error, ignored=False, seen_at=now)
            latest[group_id] = (error, document.failure_kind)
    GroupMember.objects.bulk_create(joining, batch_size=500)
    report.joined += len(joining)
    for group_id, (error, failure_kind) in latest.items():
        FailureGroup.objects.filter(pk=group_id).update(
            last_seen_at=now, sample_error=error, failure_kind=failure_kind,
            total_count=F("total_count") + joined.get(group_id, 0))
    groups_recount(touched | set(latest), now=now, report=report)
    return report


def _group_for(key: GroupKey, document: Document, *, now: datetime) -> FailureGroup:
    group, _ = FailureGroup.objects.get_or_create(
        tenant_id=key.tenant_id, flow=key.flow, step=key.step, fingerprint=key.fingerprint,
        defaults={"kind": key.kind, "pattern": key.pattern, "missing_kind": key.missing_kind,
                  "missing_value": key.missing_value, "missing_label": key.missing_label, "failure_kind": document.failure_kind,
                  "first_seen_at": now, "last_seen_at": now, "status": GroupStatus.OPEN},
    )
    return group


def groups_recount(group_ids: Iterable[int], *, now: datetime, report: TriageReport | None = None) -> None:
    """Counts from the members (one GROUP BY), and open or resolved to match."""
    group_ids = set(group_ids)
    if not group_ids:
        return
    counts = {row["group_id"]: row for row in GroupMember.objects.filter(group_id__in=group_ids).values("group_id")
              .annotate(open=Count("id", filter=Q(ignored=False)), ignored=Count("id", filter=Q(ignored=True)))}
    for group in FailureGroup.objects.filter(pk__in=group_ids).only("id", "status"):
        row = counts.get(group.pk, {"open": 0, "ignored": 0})
        status = GroupStatus.OPEN if row["open"] else GroupStatus.RESOLVED
        changes: dict[str, Any] = {"open_count": row["open"], "ignored_count": row["ignored"], "status": status}
        if status != group.status:
            changes["resolved_at"] = now if status == GroupStatus.RESOLVED else None
            if report is not None:
                (report.groups_resolved if status == GroupStatus.RESOLVED else report.groups_opened).append(group.pk)
        FailureGroup.objects.filter(pk=group.pk).update(**changes)
