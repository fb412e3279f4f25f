"""A polling cycle of one flow for one tenant, under the (tenant, flow) lock.

What a cycle does is connector.work.flow_cycle (receive, then hand the waiting documents to
workers, or run them here with `inline=True`); this module owns the run around it: the lock,
the SyncRun row, its status and error. Counts reach the run only through
connector.counts.sync_run_add, which many workers call at once, so the run's own saves name
their fields and leave `counts` out.

A cycle that finds the lock held does nothing and writes nothing (a scheduled tick counts the
skip on its schedule). A cycle that gets the lock marks every other run of its tenant and
flow still "running" as abandoned: holding the lock, it knows their processes are gone.

A quiet cycle (it succeeded, received no document, handed out none, counted no outcome and
found no run abandoned) keeps its run only while it works (abandoned-run detection, the
progress bar and "Run now" follow a running row): when it ends, the row is removed and its
schedule counts the quiet cycle instead (quiet_count, last_quiet_at), in one transaction,
so beat's ticks every 30 seconds do not fill the runs with empty rows. With no schedule to
count it on (`manage.py sync` for a tenant never scheduled) the run is kept.
"""
from __future__ import annotations

import traceback as tb

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tenants.models import Tenant

from .counts import sync_run_add
from .cursors import cursor_advance, cursor_read
from .failures import FailureKind, IntegrationFailure, classify
from .flows import Flow, get_flow
from .locks import LockLost, exclusive
from .logs import bound
from .models import FlowSchedule, SyncRun, SyncRunStatus, Trigger
from .work import flow_cycle

RUN_FIELDS = ["status", "finished_at", "progress", "cursor_before", "cursor_after", "error"]
# Counts that say what a cycle looked at, not what it did: records read again (a stream's
# lookback re-reads its last records; their documents exist: "duplicate" on receipt), files
# already known. A run whose other counts are all zero received and processed nothing.
LOOKED_ONLY = frozenset({"seen", "known", "duplicate"})


def sync_lock_key(*, tenant_id: int, flow_name: str) -> str:
    return f"sync:{tenant_id}:{flow_name}"


def sync_run_execute(*, tenant: Tenant, flow_name: str, trigger: str, user: AbstractBaseUser | None = None,
                     inline: bool = False, task_id: str = "") -> SyncRun | None:
    """Run one cycle and return its run; None when another run of this flow for this tenant
    holds the lock (nothing is written). A quiet run comes back with `run.quiet` True (not a
    field): its row is gone and its schedule counted it.

    `inline=False` (the scheduled task) queues one task per waiting document and returns;
    `inline=True` (`manage.py sync`, tests) returns once every one of them has run.
    While the cycle works, `run.lease` (not a field) is the lock's Lease: the work may call
    `run.lease.check()` between documents to stop once the lock is lost. A lost lock fails
    the run with that reason, even when the cycle itself finished.
    """
    flow = get_flow(flow_name)
    if not flow.has_cycle:
        raise ValueError(f"flow {flow_name} has no polling cycle")
    with bound(tenant_id=tenant.pk, flow=flow_name, trigger=trigger):
        return _run(tenant=tenant, flow=flow, trigger=trigger, user=user, inline=inline, task_id=task_id)


def sync_run_is_quiet(run: SyncRun) -> bool:
    """Whether a finished run found nothing: succeeded, handed out no document, counted nothing
    but what it looked at (connector.counts keeps `queued` and the outcomes), and left its
    cursor where it was (the run's row is the only record of a move)."""
    if run.status != SyncRunStatus.SUCCEEDED or run.error or run.progress_total or run.progress_done:
        return False
    if run.cursor_after and run.cursor_after != run.cursor_before:
        return False
    return not any(value for key, value in (run.counts or {}).items() if key not in LOOKED_ONLY)


def sync_last_success(*, tenant_id: int, flow_name: str):
    """When the tenant's last successful cycle of the flow ended: a succeeded run, or a quiet
    cycle (no run kept; its schedule counted it); None when there was none."""
    run = (SyncRun.objects.filter(tenant_id=tenant_id, flow=flow_name, status=SyncRunStatus.SUCCEEDED)
           .order_by("-started_at").values_list("finished_at", flat=True).first())
    quiet = FlowSchedule.objects.filter(tenant_id=tenant_id, flow=flow_name).values_list("last_quiet_at", flat=True).first()
    return max((when for when in (run, quiet) if when is not None), default=None)


def sync_run_quiet_record(run: SyncRun) -> bool:
    """Count a quiet run on its schedule and remove its row, atomically; False (the row kept)
    when the tenant has no schedule for the flow to count it on."""
    fields = {"quiet_count": F("quiet_count") + 1, "last_quiet_at": run.finished_at}
    if run.trigger == Trigger.MANUAL and run.task_id:
        fields["last_quiet_task_id"] = run.task_id  # "Run now" follows its task: its page says so
    with transaction.atomic():
        if not FlowSchedule.objects.filter(tenant_id=run.tenant_id, flow=run.flow).update(**fields):
            return False
        SyncRun.objects.filter(pk=run.pk).delete()
    return True


def _run(*, tenant: Tenant, flow: Flow, trigger: str, user: AbstractBaseUser | None, inline: bool,
         task_id: str) -> SyncRun | None:
    flow_name = flow.name
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name=flow_name)) as lease:
        if not lease:
            return None
        run = SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user, task_id=task_id)
        # A run that found others abandoned is kept whatever it did: their errors name it.
        took_over = sync_runs_abandon(tenant=tenant, flow_name=flow_name, found_by=run)
        run.lease = lease
        try:
            with bound(run_id=run.pk):
                flow_cycle(run=run, flow=flow, trigger=trigger, user=user, inline=inline)
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
            run.progress = run.progress[:200]
            run.save(update_fields=RUN_FIELDS)
            run.refresh_from_db(fields=["counts", "progress_done", "progress_total"])
            run.quiet = not took_over and sync_run_is_quiet(run) and sync_run_quiet_record(run)
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
    """Add to one of the run's counts (atomically: see connector.counts)."""
    sync_run_add(run, {key: by})


__all__ = ["cursor_advance", "cursor_read", "sync_run_count", "sync_run_execute"]
