""""Run now" on a schedule: queue one cycle of the flow for the tenant, as the person who
asked, and tell the page how that cycle is doing while it runs.

The cycle is the same Celery task beat runs (`connector.run_flow`), triggered manually and
carrying the user; its task id is chosen here, so the page can follow the SyncRun that task
writes (SyncRun.task_id) from "queued" to its end. A cycle that found nothing leaves no run
(connector.sync): its schedule remembers the task of the last such manual cycle, so the page
still ends with "ran at 10:42, nothing new".
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone

from .display import duration, tenant_time
from .documents import audit_record
from .models import FlowSchedule, SyncRun, SyncRunStatus, Trigger


def schedule_run_now(*, schedule: FlowSchedule, user: AbstractBaseUser | None) -> str:
    """Queue one cycle now; returns the Celery task id its run will carry."""
    from .tasks import run_flow  # the tasks module imports the schedules: import at call time

    task_id = str(uuid.uuid4())
    audit_record(tenant=schedule.tenant, user=user, action="run_requested", reason=f"{schedule.flow}: run now")
    run_flow.apply_async(kwargs={"tenant_id": schedule.tenant_id, "flow": schedule.flow, "trigger": Trigger.MANUAL,
                                 "user_id": getattr(user, "pk", None)}, task_id=task_id)
    return task_id


@dataclass
class RunStatus:
    """What the schedule page shows of one run (JSON for its poll)."""

    state: str
    label: str
    finished: bool
    progress: str = ""
    done: int | None = None
    total: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    took: str = ""
    error: str = ""
    url: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quiet_status(schedule: FlowSchedule) -> RunStatus:
    """The schedule's last quiet cycle as the page shows it: it ran, and found nothing new."""
    when = tenant_time(schedule.last_quiet_at, schedule.tenant, seconds=True)
    return RunStatus(state="quiet", label="Nothing new", finished=True, progress=f"ran at {when}, nothing new")


def run_status(*, schedule: FlowSchedule, task_id: str = "") -> RunStatus:
    """The run the task `task_id` wrote, "nothing new" when that task's cycle was quiet (no
    run kept), or "queued" while no worker has started it; without a task id, the latest run
    of the schedule's flow for its tenant, or its last quiet cycle when that came after."""
    runs = SyncRun.objects.filter(tenant_id=schedule.tenant_id, flow=schedule.flow)
    run = runs.filter(task_id=task_id).first() if task_id else runs.order_by("-started_at", "-id").first()
    if task_id and run is None and schedule.last_quiet_task_id == task_id and schedule.last_quiet_at:
        return quiet_status(schedule)
    if not task_id and schedule.last_quiet_at and (
            run is None or (run.started_at < schedule.last_quiet_at and run.status != SyncRunStatus.RUNNING)):
        return quiet_status(schedule)
    if run is None:
        if task_id:
            busy = runs.filter(status=SyncRunStatus.RUNNING).exists()
            return RunStatus(state="queued", label="Queued", finished=False,
                             progress="waiting for the run in progress to finish" if busy else "waiting for a worker")
        return RunStatus(state="none", label="No run yet", finished=True)
    running = run.status == SyncRunStatus.RUNNING
    end = timezone.now() if running else run.finished_at
    return RunStatus(
        state=run.status, label=run.get_status_display(), finished=not running, progress=run.progress,
        done=run.progress_done, total=run.progress_total, counts=run.counts or {},
        started=tenant_time(run.started_at, schedule.tenant, seconds=True),
        took=duration(end - run.started_at) if end else "", error=(run.error or "").splitlines()[0][:300] if run.error else "",
        url=reverse("admin:connector_syncrun_change", args=[run.pk]),
    )
