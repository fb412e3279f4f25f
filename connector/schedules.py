"""One django-celery-beat periodic task per (tenant, flow), created when the tenant's
connections for that flow are enabled, disabled when they are not. The cadence is the
task's interval, editable in the admin; this service never overwrites an edited one."""
from __future__ import annotations

import json

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tenants.models import Tenant

from .flows import Flow, all_flows

RUN_FLOW_TASK = "connector.run_flow"


def schedule_name(tenant: Tenant, flow: Flow) -> str:
    return f"{flow.name} for {tenant.slug}"


def _connections_enabled(tenant: Tenant, flow: Flow) -> bool:
    for attribute in flow.needs:
        connection = getattr(tenant, attribute, None)  # a missing one-to-one raises AttributeError → None
        if connection is None or not connection.enabled:
            return False
    return True


def schedules_ensure_for_tenant(tenant: Tenant) -> list[PeriodicTask]:
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=settings.SYNC_DEFAULT_INTERVAL_SECONDS, period=IntervalSchedule.SECONDS
    )
    tasks = []
    for flow in all_flows():
        if not flow.has_cycle:
            continue
        wanted = tenant.active and _connections_enabled(tenant, flow)
        name = schedule_name(tenant, flow)
        task = PeriodicTask.objects.filter(name=name).first()
        if task is None and not wanted:
            continue
        if task is None:
            task = PeriodicTask.objects.create(
                name=name, task=RUN_FLOW_TASK, interval=interval,
                kwargs=json.dumps({"tenant_id": tenant.pk, "flow": flow.name}),
                description=f"Polls {flow.label} for {tenant.name}",
                enabled=True,
            )
        elif task.enabled != wanted:
            task.enabled = wanted
            task.save(update_fields=["enabled"])
        tasks.append(task)
    return tasks
