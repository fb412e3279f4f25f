"""Retention per tenant: which periods apply, and one step of the purge.

The periodic sweep (console.tasks.retention_sweep) starts one chain per (tenant, job); each
step clears or deletes one batch in a short transaction and, when the batch was full, queues
the next step after the last id it handled. Jobs: one per registered payload purge
(connector.retention: documents, attempt calls, and what flows register), then deleting
attempts and sync runs older than their limits. Document rows, their states and the audit
trail are never deleted. Rows of no tenant (connector.retention.UnownedRows) have two jobs
each, run once per sweep with no tenant: their payload cleared, then the rows deleted, after
periods of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from connector.models import SyncRunStatus
from connector.retention import (
    PurgeResult,
    delete_batch,
    purge_batch,
    registered_purges,
    registered_unowned,
    unowned_batch,
)

from .models import RetentionPolicy

DELETE_JOBS = ("delete:attempts", "delete:sync-runs")


@dataclass(frozen=True)
class Periods:
    finished_payload: timedelta
    failed_payload: timedelta
    attempts: timedelta
    sync_runs: timedelta


def retention_periods(*, tenant_id: int) -> Periods:
    """The tenant's policy, or the project's defaults (settings.RETENTION_DEFAULT_DAYS)."""
    policy = RetentionPolicy.objects.filter(tenant_id=tenant_id).first()
    if policy is not None:
        days = {"finished_payload": policy.finished_payload_days, "failed_payload": policy.failed_payload_days,
                "attempts": policy.attempt_days, "sync_runs": policy.sync_run_days}
    else:
        days = settings.RETENTION_DEFAULT_DAYS
    return Periods(**{name: timedelta(days=value) for name, value in days.items()})


def retention_jobs() -> list[str]:
    return [*(f"purge:{purge.name}" for purge in registered_purges()), *DELETE_JOBS]


def unowned_retention_jobs() -> list[str]:
    """The jobs of rows that belong to no tenant, run with tenant_id None."""
    return [f"{verb}:{rows.name}" for rows in registered_unowned() for verb in ("unowned-purge", "unowned-delete")]


def retention_step(*, tenant_id: int | None, job: str, now: datetime, after_id: int = 0,
                   batch_size: int = 500) -> PurgeResult:
    """One batch of one job for one tenant (None: an unowned rows' job)."""
    if job.startswith(("unowned-purge:", "unowned-delete:")):
        verb, name = job.split(":", 1)
        rows = next((r for r in registered_unowned() if r.name == name), None)
        if rows is None:
            raise ValueError(f"no rows of no tenant named '{name}' are registered")
        return unowned_batch(rows, delete=verb == "unowned-delete", now=now, after_id=after_id, batch_size=batch_size)
    if tenant_id is None:
        raise ValueError(f"retention job '{job}' is a tenant's: it needs a tenant id")
    periods = retention_periods(tenant_id=tenant_id)
    if job.startswith("purge:"):
        name = job.removeprefix("purge:")
        purge = next((p for p in registered_purges() if p.name == name), None)
        if purge is None:
            raise ValueError(f"no payload purge named '{name}' is registered")
        return purge_batch(purge, tenant_id=tenant_id, finished_before=now - periods.finished_payload,
                           failed_before=now - periods.failed_payload, after_id=after_id, batch_size=batch_size)
    if job == "delete:attempts":
        return delete_batch("connector.Attempt", tenant="document__tenant_id", tenant_id=tenant_id, aged_by="started_at",
                            before=now - periods.attempts, after_id=after_id, batch_size=batch_size)
    if job == "delete:sync-runs":
        return delete_batch("connector.SyncRun", tenant="tenant_id", tenant_id=tenant_id, aged_by="started_at",
                            before=now - periods.sync_runs, after_id=after_id, batch_size=batch_size,
                            keep=Q(status=SyncRunStatus.RUNNING))
    raise ValueError(f"unknown retention job '{job}' (known: {', '.join([*retention_jobs(), *unowned_retention_jobs()])})")
