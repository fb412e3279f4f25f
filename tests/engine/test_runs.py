"""The run lifecycle: a skipped tick writes no run, a run whose process died is abandoned by
the next, a redelivered task retries until its dead self's lock frees."""
from io import StringIO

import pytest
from celery.exceptions import MaxRetriesExceededError, Retry
from django.core.management import call_command
from django.core.management.base import CommandError

from connector.locks import exclusive
from connector.models import FlowSchedule, SyncRun, SyncRunStatus, Trigger
from connector.schedules import schedules_ensure
from connector.sync import sync_lock_key, sync_run_execute, sync_runs_abandon
from connector.tasks import run_flow
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def tick(tenant, flow="echo", **options):
    """One beat tick, run in this process as a worker would run it."""
    return run_flow.apply(kwargs={"tenant_id": tenant.pk, "flow": flow}, **options)


def test_the_next_run_marks_a_run_whose_process_died_abandoned(echo_flow):
    tenant, other = make_tenant(), make_tenant()
    dead = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED)
    others = [SyncRun.objects.create(tenant=other, flow="echo", trigger=Trigger.SCHEDULED),
              SyncRun.objects.create(tenant=tenant, flow="stall", trigger=Trigger.SCHEDULED)]

    run = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED)

    assert run.status == SyncRunStatus.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == SyncRunStatus.ABANDONED and dead.finished_at is not None
    assert dead.error.startswith(f"abandoned: its process stopped before the run finished (found by run {run.pk} at ")
    # Another tenant's run, and another flow's, belong to other locks: untouched.
    assert {r.status for r in SyncRun.objects.filter(pk__in=[r.pk for r in others])} == {SyncRunStatus.RUNNING}


def test_a_tick_that_finds_a_run_in_progress_writes_no_run_and_counts_the_skip(echo_flow):
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):
        assert tick(tenant).get() is None
        assert tick(tenant).get() is None
    assert not SyncRun.objects.filter(tenant=tenant).exists()
    schedule = FlowSchedule.objects.get(tenant=tenant, flow="echo")
    assert schedule.skip_count == 2 and schedule.last_skipped_at is not None

    assert SyncRun.objects.get(pk=tick(tenant).get()).status == SyncRunStatus.SUCCEEDED


def test_a_manual_run_that_finds_a_run_in_progress_is_not_counted_as_a_skipped_tick(echo_flow):
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):
        result = run_flow.apply(kwargs={"tenant_id": tenant.pk, "flow": "echo", "trigger": Trigger.MANUAL})
        assert result.get() is None
    assert FlowSchedule.objects.get(tenant=tenant, flow="echo").skip_count == 0


def test_a_redelivered_task_retries_while_its_dead_self_holds_the_lock_then_runs(echo_flow):
    """Its worker died mid-cycle: the run it left "running" carries its task id, and the lock
    may still be its dead self's. It retries (eagerly here, after one lock lifetime on a
    worker) instead of being acknowledged as skipped."""
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    dead = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED, task_id="task-1")

    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):  # the dead worker's lock
        with pytest.raises(MaxRetriesExceededError):
            tick(tenant, task_id="task-1").get()
    assert FlowSchedule.objects.get(tenant=tenant, flow="echo").skip_count == 0
    assert list(SyncRun.objects.filter(tenant=tenant)) == [dead]

    run = SyncRun.objects.get(pk=tick(tenant, task_id="task-1").get())  # the lock expired
    assert run.status == SyncRunStatus.SUCCEEDED and run.task_id == "task-1"
    dead.refresh_from_db()
    assert dead.status == SyncRunStatus.ABANDONED


def test_a_redelivered_task_stops_once_another_cycle_has_taken_over_its_run(echo_flow):
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    dead = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED, task_id="task-2")
    taking_over = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED)

    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):  # a live cycle, which found it
        assert sync_runs_abandon(tenant=tenant, flow_name="echo", found_by=taking_over) == 1
        assert tick(tenant, task_id="task-2").get() is None
    dead.refresh_from_db()
    assert dead.status == SyncRunStatus.ABANDONED


def test_a_redelivered_message_with_no_run_of_its_own_retries_once(echo_flow, monkeypatch, settings):
    """Its worker may have died holding the lock before it wrote its run: one retry after a
    lock lifetime; a live run still holding the lock then is someone else's."""
    settings.LOCK_TTL_SECONDS = 12
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    task = run_flow._get_current_object()
    monkeypatch.setattr(task, "retry", retry)
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):
        for attempt in (0, 1):
            task.push_request(id="task-3", retries=attempt, delivery_info={"redelivered": True})
            try:
                if attempt == 0:
                    with pytest.raises(Retry):
                        task(tenant.pk, "echo")
                else:
                    assert task(tenant.pk, "echo") is None
            finally:
                task.pop_request()
    assert retries == [{"countdown": 12.0}]
    assert FlowSchedule.objects.get(tenant=tenant, flow="echo").skip_count == 1


def test_manage_py_sync_says_when_another_run_is_in_progress(echo_flow):
    tenant = make_tenant()
    with exclusive(sync_lock_key(tenant_id=tenant.pk, flow_name="echo")):
        with pytest.raises(CommandError, match=f"another run of echo for {tenant.slug} is in progress; nothing was done"):
            call_command("sync", "echo", "--tenant", tenant.slug, stdout=StringIO())
    assert not SyncRun.objects.filter(tenant=tenant).exists()
