"""A polling cycle of one flow for one tenant, under the (tenant, flow) lock, and the
cursors flows read from and advance.

A cycle that finds the lock held does nothing and writes nothing (a scheduled tick counts the
skip on its schedule). A cycle that gets the lock marks every other run of its tenant and flow
still "running" as abandoned: holding the lock, it knows their processes are gone.
"""
from __future__ import annotations

import time
import traceback as tb

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from tenants.models import Tenant

from .failures import FailureKind, IntegrationFailure, classify
from .flows import get_flow
from .locks import LockLost, exclusive
from .models import SyncCursor, SyncRun, SyncRunStatus


def sync_lock_key(*, tenant_id: int, flow_name: str) -> str:
    return f"sync:{tenant_id}:{flow_name}"


def sync_run_execute(*, tenant: Tenant, flow_name: str, trigger: str,
                     user: AbstractBaseUser | None = None, task_id: str = "") -> SyncRun | None:
    """Run one cycle and return its run; None when another run of this flow for this tenant
    holds the lock (nothing is written).

    While the poll works, `run.lease` (not a field) is the lock's Lease: the work may call
    `run.lease.check()` between documents to stop once the lock is lost. A lost lock fails
    the run with that reason, even when the poll itself finished.
    """
    flow = get_flow(flow_name)
    if flow.poll is None:
        raise ValueError(f"flow {flow_name} has no polling cycle")
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name=flow_name)) as lease:
        if not lease:
            return None
        run = SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user, task_id=task_id)
        sync_runs_abandon(tenant=tenant, flow_name=flow_name, found_by=run)
        run.lease = lease
        try:
            counts = flow.poll(run=run, trigger=trigger, user=user) or {}
            run.counts = {**run.counts, **counts}
            lease.check()
            run.status = SyncRunStatus.SUCCEEDED
        except LockLost as exc:
            run.status = SyncRunStatus.FAILED
            run.error = f"{exc}; another run of this flow may have overlapped this one"
        except Exception as exc:  # noqa: BLE001 - a failed cycle is recorded, never lost
            kind = classify(exc)
            run.status = SyncRunStatus.FAILED
            run.error = f"{kind.value}: {exc}" if isinstance(exc, IntegrationFailure) else \
                f"{kind.value}: {type(exc).__name__}: {exc}"
            if kind is FailureKind.BUG:
                run.error += "\n" + "".join(tb.format_exception(exc))
            if lease.lost.is_set():
                run.error = f"lost the lock {lease.key}: {lease.lost_reason}\n{run.error}"
        finally:
            run.finished_at = timezone.now()
            run.save()
        return run


def sync_runs_abandon(*, tenant: Tenant, flow_name: str, found_by: SyncRun) -> int:
    """Mark abandoned the runs of this tenant and flow still "running" beside `found_by`.

    Called only by the holder of the (tenant, flow) lock: no other run can be live, so these
    are runs whose process died. Returns how many were found.
    """
    now = timezone.now()
    return (SyncRun.objects.filter(tenant=tenant, flow=flow_name, status=SyncRunStatus.RUNNING)
            .exclude(pk=found_by.pk)
            .update(status=SyncRunStatus.ABANDONED, finished_at=now,
                    error=f"abandoned: its process stopped before the run finished "
                          f"(found by run {found_by.pk} at {now:%Y-%m-%d %H:%M:%S} UTC)"))


def sync_run_unfinished(*, task_id: str) -> SyncRun | None:
    """The run a Celery task left "running" when its process died: the sign that this
    delivery of the task is a redelivery whose earlier self may still hold the lock."""
    if not task_id:
        return None
    return SyncRun.objects.filter(task_id=task_id, status=SyncRunStatus.RUNNING).first()


def sync_run_count(run: SyncRun, key: str, by: int = 1) -> None:
    run.counts[key] = run.counts.get(key, 0) + by


# A running cycle saves its progress at most this often (and always at its last document).
PROGRESS_EVERY_SECONDS = 0.5


def sync_run_progress(run: SyncRun, *, done: int, total: int, text: str = "") -> None:
    """Record how far the cycle is (`done` of `total` documents) and its counts so far, for
    the schedule page's live progress bar. Saved by an UPDATE of those columns only, at most
    every PROGRESS_EVERY_SECONDS, so a cycle of thousands of documents writes a few rows."""
    run.progress_done, run.progress_total = done, total
    if text:
        run.progress = text[:200]
    now = time.monotonic()
    if done < total and now - getattr(run, "_progress_saved_at", 0.0) < PROGRESS_EVERY_SECONDS:
        return
    run._progress_saved_at = now
    SyncRun.objects.filter(pk=run.pk).update(progress_done=done, progress_total=total, progress=run.progress,
                                             counts=run.counts)


def cursor_read(*, tenant: Tenant, stream: str) -> str:
    cursor = SyncCursor.objects.filter(tenant=tenant, stream=stream).first()
    return cursor.value if cursor else ""


def cursor_advance(*, tenant: Tenant, stream: str, value: str) -> None:
    """Called only after the documents up to `value` are committed."""
    SyncCursor.objects.update_or_create(tenant=tenant, stream=stream, defaults={"value": value})
