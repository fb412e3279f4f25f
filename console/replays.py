"""'Replay all in this group' as a background job with progress.

One `connector.process_document` task is queued per document, by name (the engine owns the
task; the console never imports how a document is processed), each linked to
`console.replay_item_finished`, which records the document's outcome when its task ends, on
success or on error. The job's page reads the counts; nothing runs inside the web request.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import signature
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from connector.documents import audit_record
from connector.locks import exclusive
from connector.models import Document, Trigger

from .models import FailureGroup, GroupKind, GroupMember, GroupReplay, GroupReplayItem, GroupStatus, ReplayStatus

PROCESS_DOCUMENT_TASK = "connector.process_document"
ITEM_FINISHED_TASK = "console.replay_item_finished"
REPLAY_LIMIT = 5000
TRIAGE_LOCK = "console:triage"  # the periodic pass's (console.tasks.triage)
CATCH_UP_BATCHES = 4

Send = Callable[[GroupReplayItem, int | None], None]


class NothingToReplay(Exception):
    pass


def process_document_send(item: GroupReplayItem, user_id: int | None) -> None:
    """Queue the engine's task for one document; its end (either way) records the outcome."""
    from . import tasks  # noqa: F401 - registers the callback here, so an eager queue runs it too

    finished = signature(ITEM_FINISHED_TASK, kwargs={"item_id": item.pk}, immutable=True)
    # By name: a signature is sent to the broker like send_task, and runs in process where
    # tasks are eager (tests, `manage.py sync`), its callback too.
    signature(PROCESS_DOCUMENT_TASK, kwargs={"document_id": item.document_id, "trigger": Trigger.MANUAL,
                                             "user_id": user_id}).apply_async(link=finished, link_error=finished)


def group_replay_start(*, group: FailureGroup, user: AbstractBaseUser | None, send: Send | None = None,
                       because: str = "") -> GroupReplay:
    """Queue every open (not ignored) document of the group. The tasks are sent once the job
    is committed, so a fast worker always finds its item. `because` says what prompted it (in
    the audit trail)."""
    document_ids = list(GroupMember.objects.filter(group=group, ignored=False).order_by("document_id")
                        .values_list("document_id", flat=True)[:REPLAY_LIMIT])
    if not document_ids:
        raise NothingToReplay(f"group {group.pk} has no open document to replay")
    what = (group.problem() if group.kind == GroupKind.MAPPING else f"{group.flow} {group.step}: {group.pattern}")[:300]
    with transaction.atomic():
        replay = GroupReplay.objects.create(tenant_id=group.tenant_id, group=group, user=user, description=what,
                                            total=len(document_ids))
        items = GroupReplayItem.objects.bulk_create(
            [GroupReplayItem(replay=replay, document_id=pk) for pk in document_ids], batch_size=1000)
        audit_record(tenant=group.tenant, user=user, action="group_replay",
                     reason=f"replay of {len(document_ids)} document(s) queued: {what}"
                            + (f" ({because})" if because else ""))
        if not items or items[0].pk is None:  # backends that do not return ids from bulk_create
            items = list(replay.items.all())
        user_id = user.pk if user is not None else None
        sender = send or process_document_send
        transaction.on_commit(lambda: [sender(item, user_id) for item in items])
    return replay


def mapping_saved_replay(*, tenant_id: int, kind: str, values: list[str], user: AbstractBaseUser | None,
                         because: str, send: Send | None = None) -> list[GroupReplay]:
    """A mapping was saved (an override for a vendor, project or account; a client firm given
    to a trading partner): replay every document waiting on it, one job per group waiting on
    it (usually one). `values` are the names the mapping answers to (a client firm: its id or
    its code). A document also waiting on another mapping parks again, in that group only.
    The jobs are queued when the caller's transaction commits, so they read the new mapping."""
    names = [v.strip() for v in values if v and v.strip()]
    if not names:
        return []
    _triage_catch_up()
    matches = Q()
    for name in names:
        matches |= Q(missing_value__iexact=name) | Q(missing_label__iendswith=f"({name})")
    groups = (FailureGroup.objects.filter(tenant_id=tenant_id, kind=GroupKind.MAPPING, status=GroupStatus.OPEN,
                                          missing_kind=kind).filter(matches).order_by("pk"))
    replays = []
    for group in groups:
        try:
            replays.append(group_replay_start(group=group, user=user, send=send, because=because))
        except NothingToReplay:
            continue
    return replays


def _triage_catch_up() -> None:
    """Place the documents that parked since the last triage pass, so one parked a moment ago
    is replayed too; skipped when the periodic pass holds the lock (it is doing just that)."""
    from .triage import triage_pass

    with exclusive(TRIAGE_LOCK) as acquired:
        if acquired:
            triage_pass(max_batches=CATCH_UP_BATCHES)


def replay_item_finish(*, item_id: int, now: datetime | None = None) -> bool:
    """Record the outcome of one document's task; the job finishes with its last document.
    Returns False when the item was already recorded (a redelivered callback)."""
    now = now or timezone.now()
    item = GroupReplayItem.objects.filter(pk=item_id).values("replay_id", "document_id").first()
    if item is None:
        return False
    state, error = Document.objects.filter(pk=item["document_id"]).values_list("state", "last_error").first() or ("", "")
    updated = GroupReplayItem.objects.filter(pk=item_id, finished_at__isnull=True).update(
        finished_at=now, outcome=state, error=(error or "")[:1000])
    if not updated:
        return False
    GroupReplay.objects.filter(pk=item["replay_id"]).update(finished=F("finished") + 1)
    GroupReplay.objects.filter(pk=item["replay_id"], status=ReplayStatus.RUNNING, finished__gte=F("total")).update(
        status=ReplayStatus.FINISHED, finished_at=now)
    return True


def group_replay_outcomes(replay: GroupReplay) -> dict[str, int]:
    """How the finished documents ended, e.g. {"sent": 40, "failed": 2} (one GROUP BY)."""
    rows = (replay.items.filter(finished_at__isnull=False).values("outcome").annotate(n=Count("id")).order_by("outcome"))
    return {row["outcome"] or "unknown": row["n"] for row in rows}
