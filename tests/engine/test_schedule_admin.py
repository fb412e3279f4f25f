"""Schedules a finance admin can use: the cadence in plain words (every N minutes, or daily at
a time of the tenant's clock), on or paused, "run now" queueing a manual cycle and following
it; support reads them; beat's own pages are for superusers; sync runs read as a table."""
from __future__ import annotations

from datetime import time
from unittest import mock

import pytest
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connector.celery import app as celery_app
from connector.flows import get_flow
from connector.models import AuditEvent, FlowSchedule, SyncRun, SyncRunStatus, Trigger
from connector.run_now import run_status
from connector.schedules import schedule_cadence_set, schedule_cadence_words, schedule_ensure
from connector.tasks import run_flow
from tenants.models import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(echo_flow) -> FlowSchedule:
    tenant = make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")
    return schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def change_url(schedule: FlowSchedule) -> str:
    return reverse("admin:connector_flowschedule_change", args=[schedule.pk])


def run_now_url(schedule: FlowSchedule) -> str:
    return reverse("admin:connector_flowschedule_actions", args=[schedule.pk, "run_now"])


def form(**values) -> dict:
    return {"on": "on", "cadence": "every", "every_minutes": "5", "daily_at": "", **values}


def test_a_cadence_reads_in_plain_words_and_is_set_in_the_tenants_zone(schedule):
    assert schedule_cadence_words(schedule) == "every 5 minutes"  # SYNC_DEFAULT_INTERVAL_SECONDS is 300
    schedule_cadence_set(schedule=schedule, daily_at=time(7, 30))
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.interval is None
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("7", "30", "America/New_York")
    assert schedule_cadence_words(schedule) == "daily at 07:30 (America/New_York)"
    schedule_cadence_set(schedule=schedule, every_minutes=15)
    task.refresh_from_db()
    assert task.crontab is None and (task.interval.every, task.interval.period) == (15, IntervalSchedule.MINUTES)
    assert schedule_cadence_words(schedule) == "every 15 minutes"
    with pytest.raises(ValueError, match="either"):
        schedule_cadence_set(schedule=schedule, every_minutes=5, daily_at=time(1, 0))


def test_a_finance_admin_changes_the_cadence_and_pauses_the_flow(client, schedule):
    fiona = make_user("fiona", tenant=schedule.tenant, role=Role.FINANCE_ADMIN)
    client.force_login(fiona)
    page = client.get(reverse("admin:connector_flowschedule_changelist")).content.decode()
    assert "every 5 minutes" in page and "Echo (tests)" in page

    response = client.post(change_url(schedule), form(cadence="daily", daily_at="06:45", on=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule.refresh_from_db()
    task = schedule.periodic_task
    assert not schedule.enabled and not task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("6", "45", "America/New_York")
    assert AuditEvent.objects.filter(user=fiona, action="schedule_changed",
                                     reason="echo: every 5 minutes → daily at 06:45 (America/New_York)").exists()
    assert AuditEvent.objects.filter(user=fiona, action="schedule_paused").exists()


def test_a_cadence_needs_its_number_or_its_time(client, schedule):
    client.force_login(make_user(tenant=schedule.tenant, role=Role.FINANCE_ADMIN))
    page = client.post(change_url(schedule), form(cadence="daily", daily_at=""))
    assert page.status_code == 200 and "Say at what time of day it runs" in page.content.decode()
    page = client.post(change_url(schedule), form(every_minutes="0"))
    assert page.status_code == 200 and "greater than or equal to 1" in page.content.decode()


def test_support_sees_a_schedule_but_may_not_change_or_run_it(client, schedule):
    client.force_login(make_user(tenant=schedule.tenant, role=Role.SUPPORT))
    page = client.get(change_url(schedule))
    assert page.status_code == 200 and "every 5 minutes" in page.content.decode()
    assert run_now_url(schedule) not in page.content.decode()
    assert client.post(change_url(schedule), form(every_minutes="1")).status_code == 403
    with mock.patch.object(run_flow, "apply_async") as queued:
        assert client.post(run_now_url(schedule)).status_code == 404
    queued.assert_not_called()
    assert schedule_cadence_words(schedule) == "every 5 minutes"


def test_another_tenants_finance_admin_finds_no_schedule(client, schedule):
    client.force_login(make_user(tenant=make_tenant(), role=Role.FINANCE_ADMIN))
    assert client.get(change_url(schedule)).status_code == 404
    progress = reverse("admin:connector_flowschedule_progress", args=[schedule.pk])
    assert client.get(progress).status_code == 404


def test_beat_pages_are_for_superusers_only(client, schedule):
    client.force_login(make_user(tenant=schedule.tenant, role=Role.FINANCE_ADMIN))
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 403
    assert "django_celery_beat" not in client.get(reverse("admin:index")).content.decode()
    client.force_login(make_user(superuser=True))
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 200


def test_run_now_queues_a_manual_cycle_carrying_the_user(client, schedule):
    fiona = make_user("fiona", tenant=schedule.tenant, role=Role.FINANCE_ADMIN)
    client.force_login(fiona)
    assert run_now_url(schedule) in client.get(change_url(schedule)).content.decode()
    with mock.patch.object(run_flow, "apply_async") as queued:
        response = client.post(run_now_url(schedule))
    queued.assert_called_once()
    kwargs = queued.call_args.kwargs
    assert kwargs["kwargs"] == {"tenant_id": schedule.tenant_id, "flow": "echo", "trigger": Trigger.MANUAL,
                                "user_id": fiona.pk}
    assert response.status_code == 302 and response["Location"].endswith(f"?run={kwargs['task_id']}")
    progress = client.get(reverse("admin:connector_flowschedule_progress", args=[schedule.pk]),
                          {"task": kwargs["task_id"]}).json()
    assert (progress["state"], progress["finished"]) == ("queued", False)
    assert client.get(run_now_url(schedule)).status_code == 405, "a GET never queues anything"


def test_run_now_runs_the_cycle_as_the_user_and_the_page_follows_it(client, schedule, echo_flow, eager_celery):
    fiona = make_user("fiona", tenant=schedule.tenant, role=Role.FINANCE_ADMIN)
    client.force_login(fiona)
    response = client.post(run_now_url(schedule))
    task_id = response["Location"].rsplit("=", 1)[1]
    run = SyncRun.objects.get(task_id=task_id)
    assert (run.status, run.trigger, run.user) == (SyncRunStatus.SUCCEEDED, Trigger.MANUAL, fiona)
    progress = client.get(reverse("admin:connector_flowschedule_progress", args=[schedule.pk]),
                          {"task": task_id}).json()
    assert progress["state"] == "succeeded" and progress["finished"] and progress["counts"]["sent"] == 2
    assert progress["started"].endswith(("EST", "EDT")) and progress["url"].endswith(f"/{run.pk}/change/")


def test_a_running_run_shows_its_progress(schedule):
    SyncRun.objects.create(tenant=schedule.tenant, flow="echo", trigger=Trigger.MANUAL, progress="sending",
                           progress_done=3, progress_total=8, counts={"seen": 8, "sent": 3})
    status = run_status(schedule=schedule)
    assert (status.state, status.done, status.total, status.finished) == ("running", 3, 8, False)


def test_sync_runs_list_counts_as_columns_and_a_bar_while_running(client, schedule):
    SyncRun.objects.create(tenant=schedule.tenant, flow="echo", trigger=Trigger.SCHEDULED, progress="sending",
                           progress_done=3, progress_total=8)
    SyncRun.objects.create(tenant=schedule.tenant, flow="echo", trigger=Trigger.SCHEDULED, status="succeeded",
                           counts={"seen": 7, "new": 4, "posted": 3, "sent": 1, "duplicate": 2})
    client.force_login(make_user(tenant=schedule.tenant, role=Role.SUPPORT))
    html = client.get(reverse("admin:connector_syncrun_changelist")).content.decode()
    assert '<progress class="mlc-progress" max="8" value="3">' in html
    for header in ("Seen", "New", "Sent / posted", "Duplicate", "Needs mapping", "Failed", "Duration"):
        assert f">{header}</a>" in html or f">{header}</span>" in html, header
    assert '<td class="field-sent_count">4</td>' in html, "sent and posted add up"
