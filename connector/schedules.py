"""One django-celery-beat periodic task per (tenant, flow), owned through a FlowSchedule row.

Every tenant whose connections for a flow are enabled gets the flow's task: after `migrate`,
by `manage.py schedules_ensure`, and when a tenant is saved in the admin. The task is paused,
never deleted, while the tenant, a connection the flow needs or the schedule itself
(FlowSchedule.enabled, a human's switch) is off, and resumes when all are on again. The
cadence is the task's own schedule, editable in the admin: nothing here overwrites it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from tenants.models import Tenant

from .documents import audit_record
from .flows import Flow, all_flows, get_flow
from .models import FlowSchedule

RUN_FLOW_TASK = "connector.run_flow"


@dataclass(frozen=True)
class ScheduleChange:
    """What ensuring one schedule did: created, adopted (a task made before FlowSchedule
    existed), paused, resumed or unchanged."""

    schedule: FlowSchedule
    change: str

    def __str__(self) -> str:
        return f"{self.schedule.periodic_task.name}: {self.change}"


def schedule_name(tenant: Tenant, flow: Flow) -> str:
    return f"{flow.name} for {tenant.slug}"


def _connections_enabled(tenant: Tenant, flow: Flow) -> bool:
    for attribute in flow.needs:
        connection = getattr(tenant, attribute, None)  # a missing one-to-one raises AttributeError → None
        if connection is None or not connection.enabled:
            return False
    return True


def _should_run(tenant: Tenant, flow: Flow, schedule: FlowSchedule | None) -> bool:
    return tenant.active and (schedule is None or schedule.enabled) and _connections_enabled(tenant, flow)


def schedule_wanted(*, tenant: Tenant, flow_name: str) -> bool:
    """Whether a tick of this (tenant, flow) should run now: the tenant, the schedule and
    every connection the flow needs are on."""
    schedule = FlowSchedule.objects.filter(tenant=tenant, flow=flow_name).first()
    return _should_run(tenant, get_flow(flow_name), schedule)


def _default_interval() -> IntervalSchedule:
    every = settings.SYNC_DEFAULT_INTERVAL_SECONDS
    interval = IntervalSchedule.objects.filter(every=every, period=IntervalSchedule.SECONDS).order_by("pk").first()
    return interval or IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)


def _adoptable_task(tenant: Tenant, flow: Flow) -> PeriodicTask | None:
    """The task made under the schedule's name before FlowSchedule existed: adopted as it is."""
    task = PeriodicTask.objects.filter(name=schedule_name(tenant, flow), task=RUN_FLOW_TASK,
                                       flow_schedule__isnull=True).first()
    if task is not None and json.loads(task.kwargs or "{}") == {"tenant_id": tenant.pk, "flow": flow.name}:
        return task
    return None


def _task_create(tenant: Tenant, flow: Flow) -> PeriodicTask:
    name = schedule_name(tenant, flow)
    if PeriodicTask.objects.filter(name=name).exists():  # the name belongs to something else
        name = f"{name} (tenant {tenant.pk})"
    return PeriodicTask.objects.create(
        name=name, task=RUN_FLOW_TASK, interval=_default_interval(),
        kwargs=json.dumps({"tenant_id": tenant.pk, "flow": flow.name}),
        description=f"Polls {flow.label} for {tenant.name}", enabled=True,
    )


def _align(schedule: FlowSchedule, *, wanted: bool, change: str = "unchanged") -> ScheduleChange:
    """Pause or resume the task to match `wanted`; the change says what was done."""
    task = schedule.periodic_task
    if task.enabled != wanted:
        task.enabled = wanted
        task.save(update_fields=["enabled"])  # save(), not update(): beat notices a changed task
        if change == "unchanged":
            change = "resumed" if wanted else "paused"
    return ScheduleChange(schedule=schedule, change=change)


def schedule_ensure(*, tenant: Tenant, flow: Flow) -> ScheduleChange | None:
    """Create, adopt, pause or resume the schedule of one (tenant, flow). None when there is
    none and none is wanted (the flow's connections were never enabled)."""
    schedule = FlowSchedule.objects.select_related("periodic_task").filter(tenant=tenant, flow=flow.name).first()
    wanted = _should_run(tenant, flow, schedule)
    if schedule is not None:
        return _align(schedule, wanted=wanted)
    task = _adoptable_task(tenant, flow)
    if task is None and not wanted:
        return None
    change = "adopted" if task is not None else "created"
    schedule = FlowSchedule.objects.create(tenant=tenant, flow=flow.name,
                                           periodic_task=task or _task_create(tenant, flow))
    return _align(schedule, wanted=wanted, change=change)


def schedules_ensure(*, tenants: Iterable[Tenant] | None = None) -> list[ScheduleChange]:
    """Ensure the schedule of every polling flow for every tenant (or the given ones)."""
    flows = [flow for flow in all_flows() if flow.has_cycle]
    changes = []
    for tenant in Tenant.objects.order_by("pk") if tenants is None else tenants:
        for flow in flows:
            change = schedule_ensure(tenant=tenant, flow=flow)
            if change is not None:
                changes.append(change)
    return changes


def schedules_ensure_for_tenant(tenant: Tenant) -> list[PeriodicTask]:
    """The tenant's periodic tasks after ensuring them (what the tenant admin reports)."""
    return [change.schedule.periodic_task for change in schedules_ensure(tenants=[tenant])]


def schedule_enable(*, schedule: FlowSchedule, enabled: bool, user: AbstractBaseUser | None = None) -> ScheduleChange:
    """A human's switch: off pauses the flow for the tenant whatever its connections; on lets
    it run again when the tenant and its connections are on. Audited when it changes."""
    if schedule.enabled != enabled:
        audit_record(tenant=schedule.tenant, user=user, action="schedule_resumed" if enabled else "schedule_paused",
                     reason=f"{schedule.flow}: {'on' if enabled else 'off'}")
    schedule.enabled = enabled
    schedule.save(update_fields=["enabled"])
    return _align(schedule, wanted=_should_run(schedule.tenant, get_flow(schedule.flow), schedule))


def schedule_skip_record(*, tenant: Tenant, flow_name: str) -> None:
    """A tick found a run of this (tenant, flow) in progress: count it here, write no run."""
    FlowSchedule.objects.filter(tenant=tenant, flow=flow_name).update(
        skip_count=F("skip_count") + 1, last_skipped_at=timezone.now())


@dataclass(frozen=True)
class Cadence:
    """How often a flow runs, as a finance admin says it: every N minutes, or once a day at a
    wall-clock time in the tenant's zone. None of both: a schedule set some other way (a
    superuser's crontab in the raw beat pages), shown as it is and never rewritten."""

    every_minutes: int | None = None
    daily_at: time | None = None
    zone: str = "UTC"

    def words(self) -> str:
        if self.every_minutes is not None:
            return "every minute" if self.every_minutes == 1 else f"every {self.every_minutes} minutes"
        if self.daily_at is not None:
            return f"daily at {self.daily_at:%H:%M} ({self.zone})"
        return "custom"


SECONDS_PER = {IntervalSchedule.SECONDS: 1, IntervalSchedule.MINUTES: 60, IntervalSchedule.HOURS: 3600,
               IntervalSchedule.DAYS: 86400}


def schedule_cadence(schedule: FlowSchedule) -> Cadence:
    """The cadence of the schedule's task, in the words the form offers when it fits them."""
    task = schedule.periodic_task
    if task.interval_id:
        seconds = task.interval.every * SECONDS_PER.get(task.interval.period, 0)
        if seconds and seconds % 60 == 0:
            return Cadence(every_minutes=seconds // 60)
    elif task.crontab_id:
        cron = task.crontab
        if cron.minute.isdigit() and cron.hour.isdigit() and \
                (cron.day_of_week, cron.day_of_month, cron.month_of_year) == ("*", "*", "*"):
            return Cadence(daily_at=time(int(cron.hour), int(cron.minute)), zone=str(cron.timezone))
    return Cadence()


def schedule_cadence_words(schedule: FlowSchedule) -> str:
    """e.g. "every 5 minutes", "daily at 07:30 (America/New_York)", or the task's own words."""
    cadence = schedule_cadence(schedule)
    if cadence.every_minutes is None and cadence.daily_at is None:
        task = schedule.periodic_task
        interval = task.interval
        if interval is not None:
            return f"every {interval.every} {interval.period if interval.every != 1 else interval.period.rstrip('s')}"
        return f"custom: {task.crontab or task.solar or task.clocked or 'none'}"
    return cadence.words()


def schedule_cadence_set(*, schedule: FlowSchedule, every_minutes: int | None = None, daily_at: time | None = None,
                         user: AbstractBaseUser | None = None) -> Cadence:
    """Give the schedule's task a new cadence: every N minutes (an IntervalSchedule) or daily
    at a time of the tenant's wall clock (a CrontabSchedule in the tenant's zone, so it keeps
    its hour across daylight saving). Exactly one of the two. Audited when it changes."""
    if (every_minutes is None) == (daily_at is None):
        raise ValueError("give either every_minutes or daily_at")
    if every_minutes is not None and not 1 <= every_minutes <= 24 * 60:
        raise ValueError(f"every_minutes must be between 1 and 1440, not {every_minutes}")
    tenant = schedule.tenant
    before = schedule_cadence_words(schedule)
    task = schedule.periodic_task
    if every_minutes is not None:
        interval = IntervalSchedule.objects.filter(every=every_minutes, period=IntervalSchedule.MINUTES).order_by("pk").first()
        task.interval = interval or IntervalSchedule.objects.create(every=every_minutes, period=IntervalSchedule.MINUTES)
        task.crontab = None
    else:
        zone = tenant.time_zone or "UTC"
        spec = {"minute": str(daily_at.minute), "hour": str(daily_at.hour), "day_of_week": "*", "day_of_month": "*",
                "month_of_year": "*"}
        crontab = CrontabSchedule.objects.filter(**spec, timezone=zone).order_by("pk").first()
        task.crontab = crontab or CrontabSchedule.objects.create(**spec, timezone=zone)
        task.interval = None
    task.solar = task.clocked = None
    task.save()  # save(), not update(): beat notices a changed task
    after = schedule_cadence_words(schedule)
    if after != before:
        audit_record(tenant=tenant, user=user, action="schedule_changed",
                     reason=f"{schedule.flow}: {before} → {after}")
    return schedule_cadence(schedule)
