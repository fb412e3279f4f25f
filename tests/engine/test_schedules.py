"""A periodic task per (tenant, flow) exists for every tenant whose connections for the flow
are enabled (after migrate, by a command, after an admin save); it pauses while the tenant,
a needed connection or the schedule is off; an edited cadence is never overwritten."""
import dataclasses
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connector import flows
from connector.models import FlowSchedule, SyncRun
from connector.schedules import schedule_enable, schedules_ensure, schedules_ensure_for_tenant
from connector.tasks import run_flow
from tenants.models import Tenant, VantagepointConnection
from tests.factories import make_connections, make_tenant

pytestmark = pytest.mark.django_db

NEEDS = ("vantagepointconnection", "cleoconnection")


@pytest.fixture
def needy_echo(echo_flow, monkeypatch):
    """The echo flow, needing both connections like the EDI flows."""
    monkeypatch.setitem(flows._registry, "echo", dataclasses.replace(echo_flow.ECHO_FLOW, needs=NEEDS))


def echo_task(tenant: Tenant) -> PeriodicTask:
    return FlowSchedule.objects.select_related("periodic_task").get(tenant=tenant, flow="echo").periodic_task


def test_schedule_created_when_connections_enabled_and_paused_when_not(needy_echo):
    tenant = make_tenant(slug="acme")
    assert [t for t in schedules_ensure_for_tenant(tenant) if t.name.startswith("echo")] == []

    make_connections(tenant, enabled=True)
    tenant.refresh_from_db()
    schedules_ensure_for_tenant(tenant)
    task = PeriodicTask.objects.get(name="echo for acme")
    assert task.enabled and task.task == "connector.run_flow" and echo_task(tenant) == task
    assert json.loads(task.kwargs) == {"tenant_id": tenant.pk, "flow": "echo"}

    # An edited cadence survives; disabling a needed connection pauses the task.
    task.interval.every = 42
    task.interval.save()
    VantagepointConnection.objects.filter(tenant=tenant).update(enabled=False)
    tenant.refresh_from_db()
    schedules_ensure_for_tenant(tenant)
    task.refresh_from_db()
    assert not task.enabled and task.interval.every == 42


def test_migrate_gives_every_tenant_with_enabled_connections_its_schedules(needy_echo):
    ready, unconnected, inactive = make_tenant(), make_tenant(), make_tenant(active=False)
    make_connections(ready)
    make_connections(inactive)

    out = StringIO()
    call_command("migrate", verbosity=1, stdout=out)

    assert echo_task(ready).enabled
    assert not FlowSchedule.objects.filter(tenant__in=[unconnected, inactive], flow="echo").exists()
    assert f"echo for {ready.slug}: created" in out.getvalue()


def test_the_command_creates_pauses_and_resumes_and_keeps_an_edited_cadence(needy_echo):
    tenant, other = make_tenant(), make_tenant()
    make_connections(tenant)

    out = StringIO()
    call_command("schedules_ensure", stdout=out)
    lines = out.getvalue().splitlines()
    assert f"echo for {tenant.slug}: created (running, every 300 seconds)" in lines
    assert not any(other.slug in line for line in lines), lines

    task = echo_task(tenant)
    task.interval = IntervalSchedule.objects.create(every=17, period=IntervalSchedule.MINUTES)
    task.save()
    Tenant.objects.filter(pk=tenant.pk).update(active=False)
    out = StringIO()
    call_command("schedules_ensure", "--tenant", tenant.slug, stdout=out)
    assert f"echo for {tenant.slug}: paused (paused, every 17 minutes)" in out.getvalue().splitlines()

    Tenant.objects.filter(pk=tenant.pk).update(active=True)
    out = StringIO()
    call_command("schedules_ensure", stdout=out)
    assert f"echo for {tenant.slug}: resumed (running, every 17 minutes)" in out.getvalue().splitlines()
    assert FlowSchedule.objects.filter(tenant=tenant, flow="echo").count() == 1


def test_the_command_names_an_unknown_tenant(needy_echo):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no tenant with slug 'nobody'"):
        call_command("schedules_ensure", "--tenant", "nobody", stdout=StringIO())


def test_a_task_made_before_schedules_were_tracked_is_adopted_with_its_cadence(needy_echo):
    tenant = make_tenant(slug="older")
    make_connections(tenant)
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    old = PeriodicTask.objects.create(name="echo for older", task="connector.run_flow", interval=every_minute,
                                      kwargs=json.dumps({"tenant_id": tenant.pk, "flow": "echo"}), enabled=False)

    changes = {c.schedule.flow: c.change for c in schedules_ensure(tenants=[tenant])}

    assert changes["echo"] == "adopted"
    old.refresh_from_db()
    assert echo_task(tenant) == old and old.enabled and old.interval == every_minute


def test_a_name_taken_by_something_else_is_not_adopted(needy_echo):
    tenant = make_tenant(slug="taken")
    make_connections(tenant)
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="echo for taken", task="some.other_task", interval=every_minute)

    schedules_ensure(tenants=[tenant])

    assert echo_task(tenant).name == f"echo for taken (tenant {tenant.pk})"


def test_a_human_switches_a_schedule_off_and_connections_do_not_switch_it_back(needy_echo):
    tenant = make_tenant()
    make_connections(tenant)
    schedules_ensure(tenants=[tenant])
    schedule = FlowSchedule.objects.get(tenant=tenant, flow="echo")

    assert schedule_enable(schedule=schedule, enabled=False).change == "paused"
    schedules_ensure(tenants=[tenant])
    assert not echo_task(tenant).enabled

    assert schedule_enable(schedule=schedule, enabled=True).change == "resumed"
    assert echo_task(tenant).enabled


def test_a_tick_for_a_connection_turned_off_pauses_its_schedule_and_runs_nothing(needy_echo):
    tenant = make_tenant()
    make_connections(tenant)
    schedules_ensure(tenants=[tenant])
    VantagepointConnection.objects.filter(tenant=tenant).update(enabled=False)  # not through the admin

    assert run_flow.apply(kwargs={"tenant_id": tenant.pk, "flow": "echo"}).get() is None

    assert not echo_task(tenant).enabled
    assert not SyncRun.objects.filter(tenant=tenant).exists()
