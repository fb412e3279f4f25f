"""A polling cycle of one flow for one tenant, under the (tenant, flow) lock.

What a cycle does is connector.work.flow_cycle (receive, then hand the waiting documents to
workers, or run them here with `inline=True`); this module owns the run around it: the lock,
the SyncRun row, its status and error. Counts reach the run only through
connector.counts.sync_run_add, which many workers call at once, so the run's own saves name
their fields and leave `counts` out.
"""
from __future__ import annotations

import traceback as tb

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from tenants.models import Tenant

from .counts import sync_run_add
from .cursors import cursor_advance, cursor_read
from .failures import FailureKind, IntegrationFailure, classify
from .flows import get_flow
from .locks import exclusive
from .models import SyncRun, SyncRunStatus
from .work import flow_cycle

RUN_FIELDS = ["status", "finished_at", "progress", "cursor_before", "cursor_after", "error"]


def sync_run_execute(*, tenant: Tenant, flow_name: str, trigger: str, user: AbstractBaseUser | None = None,
                     inline: bool = False) -> SyncRun:
    """Run one cycle; an overlapping cycle is recorded as skipped and does nothing.

    `inline=False` (the scheduled task) queues one task per waiting document and returns;
    `inline=True` (`manage.py sync`, tests) returns once every one of them has run."""
    flow = get_flow(flow_name)
    if not flow.has_cycle:
        raise ValueError(f"flow {flow_name} has no polling cycle")
    with exclusive(f"sync:{tenant.pk}:{flow_name}") as acquired:
        if not acquired:
            now = timezone.now()
            return SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user,
                                          status=SyncRunStatus.SKIPPED, started_at=now, finished_at=now,
                                          progress="another run of this flow for this tenant is in progress")
        run = SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user)
        try:
            flow_cycle(run=run, flow=flow, trigger=trigger, user=user, inline=inline)
            run.status = SyncRunStatus.SUCCEEDED
        except Exception as exc:  # noqa: BLE001 - a failed cycle is recorded, never lost
            kind = classify(exc)
            run.status = SyncRunStatus.FAILED
            run.error = f"{kind.value}: {exc}" if isinstance(exc, IntegrationFailure) else \
                f"{kind.value}: {type(exc).__name__}: {exc}"
            if kind is FailureKind.BUG:
                run.error += "\n" + "".join(tb.format_exception(exc))
        finally:
            run.finished_at = timezone.now()
            run.progress = run.progress[:200]
            run.save(update_fields=RUN_FIELDS)
            run.refresh_from_db(fields=["counts"])
        return run


def sync_run_count(run: SyncRun, key: str, by: int = 1) -> None:
    """Add to one of the run's counts (atomically: see connector.counts)."""
    sync_run_add(run, {key: by})


__all__ = ["cursor_advance", "cursor_read", "sync_run_count", "sync_run_execute"]
