"""A cycle that found nothing keeps no SyncRun row: its schedule counts it (quiet_count,
last_quiet_at), the overview and the silence alert take it as a successful cycle, and "Run
now" still tells the person how it ended. A cycle that received, processed, failed or took
over an abandoned run keeps its row, as does a quiet one with no schedule to count it on."""
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

import connector.sync as sync_module
from connector.failures import TransientFailure
from connector.flows import get_flow
from connector.models import Document, FlowSchedule, SyncRun, SyncRunStatus, Trigger
from connector.run_now import run_status
from connector.schedules import schedule_ensure
from connector.sync import sync_run_execute
from connector.tasks import run_flow
from console.alerts import alerts_evaluate
from console.models import Alert, AlertKind, AlertSettings, SilenceRule
from console.overview import last_successful_cycles, overview_scope
from console.zones import local_time
from tenants.models import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


def tick(tenant, **options):
    return run_flow.apply(kwargs={"tenant_id": tenant.pk, "flow": "echo"}, **options).get()


def scheduled_tenant(**fields):
    tenant = make_tenant(**fields)
    return tenant, schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule


def test_a_cycle_that_finds_nothing_leaves_no_run_and_counts_on_its_schedule(echo_flow):
    tenant, schedule = scheduled_tenant()
    first = SyncRun.objects.get(pk=tick(tenant))
    assert first.status == SyncRunStatus.SUCCEEDED and first.counts["new"] == 2, "it received: its row stays"

    before = timezone.now()
    tick(tenant)
    tick(tenant)

    assert list(SyncRun.objects.filter(tenant=tenant)) == [first], "two quiet ticks, no new row"
    schedule.refresh_from_db()
    assert schedule.quiet_count == 2
    assert before <= schedule.last_quiet_at <= timezone.now()
    assert schedule.last_quiet_task_id == "", "a scheduled tick is no one's run now"
    assert schedule.skip_count == 0


def test_the_quiet_run_exists_while_it_works(echo_flow, monkeypatch):
    """Abandoned-run detection, the progress bar and "Run now" follow a running row."""
    tenant, _ = scheduled_tenant()
    tick(tenant)
    seen_while_running = []
    real_cycle = sync_module.flow_cycle

    def watched_cycle(*, run, **kwargs):
        seen_while_running.append(SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).exists())
        return real_cycle(run=run, **kwargs)

    monkeypatch.setattr(sync_module, "flow_cycle", watched_cycle)
    run = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED)

    assert seen_while_running == [True]
    assert run.quiet and not SyncRun.objects.filter(pk=run.pk).exists()


def test_a_failed_cycle_that_received_nothing_keeps_its_row(echo_flow, monkeypatch):
    tenant, schedule = scheduled_tenant()

    def failing_cycle(**kwargs):
        raise TransientFailure("Cleo answered 503", status=503, system="cleo")

    monkeypatch.setattr(sync_module, "flow_cycle", failing_cycle)
    run = SyncRun.objects.get(pk=tick(tenant))

    assert run.status == SyncRunStatus.FAILED and "503" in run.error
    schedule.refresh_from_db()
    assert schedule.quiet_count == 0 and schedule.last_quiet_at is None


def test_a_quiet_cycle_that_found_a_run_abandoned_keeps_its_row(echo_flow):
    tenant, _ = scheduled_tenant()
    tick(tenant)
    dead = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED)

    run = SyncRun.objects.get(pk=tick(tenant))

    dead.refresh_from_db()
    assert dead.status == SyncRunStatus.ABANDONED and f"found by run {run.pk}" in dead.error
    assert run.status == SyncRunStatus.SUCCEEDED


def test_a_quiet_cycle_with_no_schedule_to_count_it_keeps_its_row(echo_flow):
    tenant = make_tenant()
    sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.MANUAL, inline=True)

    run = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.MANUAL, inline=True)

    assert not run.quiet and SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.SUCCEEDED).exists()


def test_manage_py_sync_says_nothing_new(echo_flow):
    tenant, _ = scheduled_tenant(slug="alpha")
    call_command("sync", "echo", "--tenant", "alpha", stdout=StringIO())
    out = StringIO()

    call_command("sync", "echo", "--tenant", "alpha", stdout=out)

    assert "echo for alpha: Succeeded, nothing new (counted on the schedule, no run kept) — seen 2" in out.getvalue()
    assert SyncRun.objects.filter(tenant=tenant).count() == 1


def test_run_now_that_finds_nothing_says_when_it_ran(echo_flow):
    tenant, schedule = scheduled_tenant(time_zone="America/New_York")
    tick(tenant)
    assert run_status(schedule=schedule, task_id="task-quiet").state == "queued"

    run_flow.apply(kwargs={"tenant_id": tenant.pk, "flow": "echo", "trigger": Trigger.MANUAL}, task_id="task-quiet")

    schedule.refresh_from_db()
    assert schedule.last_quiet_task_id == "task-quiet"
    status = run_status(schedule=schedule, task_id="task-quiet")
    assert (status.state, status.label, status.finished) == ("quiet", "Nothing new", True)
    assert status.progress.startswith("ran at ") and status.progress.endswith(", nothing new")
    assert " E" in status.progress, "in the tenant's zone, named"
    assert run_status(schedule=schedule).state == "quiet", "the latest cycle, without a task"

    tick(tenant)  # a later scheduled quiet tick does not take the person's answer away
    schedule.refresh_from_db()
    assert run_status(schedule=schedule, task_id="task-quiet").state == "quiet"


def test_the_latest_run_shows_when_it_came_after_the_last_quiet_cycle(echo_flow):
    tenant, schedule = scheduled_tenant()
    tick(tenant)
    tick(tenant)
    schedule.refresh_from_db()
    assert run_status(schedule=schedule).state == "quiet"
    later = SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED,
                                   started_at=schedule.last_quiet_at + timedelta(seconds=1))
    status = run_status(schedule=schedule)
    assert status.state == SyncRunStatus.RUNNING and status.url.endswith(f"/{later.pk}/change/")


def test_the_overview_counts_a_quiet_cycle_as_successful(echo_flow):
    tenant, schedule = scheduled_tenant()
    scope = overview_scope(user=make_user(tenant=tenant, role=Role.SUPPORT), tenant_slug=None)
    first = SyncRun.objects.get(pk=tick(tenant))
    assert last_successful_cycles(scope=scope)["echo"] == first.finished_at

    tick(tenant)

    schedule.refresh_from_db()
    assert schedule.last_quiet_at > first.finished_at
    assert last_successful_cycles(scope=scope)["echo"] == schedule.last_quiet_at


def test_a_quiet_cycle_keeps_the_no_success_alert_away_but_not_the_no_documents_one(echo_flow):
    tenant, schedule = scheduled_tenant(time_zone="America/New_York")
    alert_settings = AlertSettings.objects.create(tenant=tenant, email_recipients="ops@alpha.test")
    week_ago = timezone.now() - timedelta(days=7)
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", minutes_without_success=30,
                               hours_without_documents=6, created_at=week_ago)
    tick(tenant)
    SyncRun.objects.filter(tenant=tenant).update(started_at=week_ago, finished_at=week_ago)
    Document.objects.filter(tenant=tenant).update(created_at=week_ago)

    alerts_evaluate()
    assert set(Alert.objects.values_list("kind", flat=True)) == {AlertKind.NO_SUCCESS, AlertKind.NO_DOCUMENTS}

    tick(tenant)  # quiet: no run row, counted on the schedule
    assert SyncRun.objects.filter(tenant=tenant).count() == 1
    alerts_evaluate()

    firing = set(Alert.objects.filter(status="firing").values_list("kind", flat=True))
    assert firing == {AlertKind.NO_DOCUMENTS}


def test_the_no_success_alert_names_the_last_quiet_cycle(echo_flow):
    tenant, schedule = scheduled_tenant(time_zone="America/New_York")
    alert_settings = AlertSettings.objects.create(tenant=tenant, email_recipients="ops@alpha.test")
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", minutes_without_success=30,
                               created_at=timezone.now() - timedelta(days=7))
    tick(tenant)
    tick(tenant)
    schedule.refresh_from_db()
    SyncRun.objects.filter(tenant=tenant).update(finished_at=schedule.last_quiet_at - timedelta(minutes=5))

    alerts_evaluate(now=schedule.last_quiet_at + timedelta(hours=1))

    alert = Alert.objects.get(kind=AlertKind.NO_SUCCESS)
    assert f"Last successful cycle: {local_time(schedule.last_quiet_at, 'America/New_York')}" in alert.body


def test_the_schedules_admin_shows_quiet_cycles(client, echo_flow):
    tenant, schedule = scheduled_tenant(time_zone="America/New_York")
    tick(tenant)
    tick(tenant)
    tick(tenant)
    client.force_login(make_user(tenant=tenant, role=Role.FINANCE_ADMIN))

    listing = client.get("/admin/connector/flowschedule/").content.decode()
    page = client.get(f"/admin/connector/flowschedule/{schedule.pk}/change/").content.decode()

    schedule.refresh_from_db()
    assert f"2, the last {local_time(schedule.last_quiet_at, 'America/New_York')}" in listing
    assert "Quiet cycles" in page and "found nothing new keeps no sync run" in page
    assert local_time(schedule.last_quiet_at, "America/New_York", seconds=True) in page
    assert FlowSchedule.objects.get(pk=schedule.pk).quiet_count == 2
