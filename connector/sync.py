"""A polling cycle of one flow for one tenant, under the (tenant, flow) lock, and the
cursors flows read from and advance."""
from __future__ import annotations

import traceback as tb

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from tenants.models import Tenant

from .failures import FailureKind, IntegrationFailure, classify
from .flows import get_flow
from .locks import exclusive
from .models import SyncCursor, SyncRun, SyncRunStatus


def sync_run_execute(*, tenant: Tenant, flow_name: str, trigger: str,
                     user: AbstractBaseUser | None = None) -> SyncRun:
    """Run one cycle; an overlapping cycle is recorded as skipped and does nothing."""
    flow = get_flow(flow_name)
    if flow.poll is None:
        raise ValueError(f"flow {flow_name} has no polling cycle")
    with exclusive(f"sync:{tenant.pk}:{flow_name}") as acquired:
        if not acquired:
            now = timezone.now()
            return SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user,
                                          status=SyncRunStatus.SKIPPED, started_at=now, finished_at=now,
                                          progress="another run of this flow for this tenant is in progress")
        run = SyncRun.objects.create(tenant=tenant, flow=flow_name, trigger=trigger, user=user)
        try:
            counts = flow.poll(run=run, trigger=trigger, user=user) or {}
            run.counts = {**run.counts, **counts}
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
            run.save()
        return run


def sync_run_count(run: SyncRun, key: str, by: int = 1) -> None:
    run.counts[key] = run.counts.get(key, 0) + by


def cursor_read(*, tenant: Tenant, stream: str) -> str:
    cursor = SyncCursor.objects.filter(tenant=tenant, stream=stream).first()
    return cursor.value if cursor else ""


def cursor_advance(*, tenant: Tenant, stream: str, value: str) -> None:
    """Called only after the documents up to `value` are committed."""
    SyncCursor.objects.update_or_create(tenant=tenant, stream=stream, defaults={"value": value})
