"""The admin's home: per flow, documents per day by outcome as SVG, the backlog, the oldest
open failure, last success and next run, connections; in the tenant's zone; a number of
queries that does not grow with the data, and no payload column read."""
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connector.flows import get_flow
from connector.models import Document, DocumentState, SyncRun, SyncRunStatus
from connector.schedules import schedule_cadence_set, schedule_enable, schedule_ensure, schedule_skip_record
from console.daily import daily_counts_refresh
from console.overview import documents_per_day, next_run_at, next_runs, overview_scope
from console.triage import triage_pass
from console.zones import local_time
from tenants.models import Role, VantagepointConnection
from tests.factories import make_connections, make_tenant, make_user

from .conftest import failed_document

pytestmark = pytest.mark.django_db


def documents(tenant, n, *, state=DocumentState.SENT, flow="echo", days_ago=0, prefix="D"):
    at = timezone.now() - timedelta(days=days_ago)
    Document.objects.bulk_create([Document(tenant=tenant, flow=flow, external_key=f"{prefix}{days_ago}-{state}-{i}",
                                           state=state, raw="RAW-PAYLOAD", created_at=at) for i in range(n)])


def test_a_tenant_user_sees_their_flows_charted_in_their_zone(client, echo_flow):
    tenant = make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")
    make_tenant("Beta", slug="beta")
    user = make_user(tenant=tenant, role=Role.SUPPORT)
    documents(tenant, 3, days_ago=1)
    documents(tenant, 2, state=DocumentState.DUPLICATE, days_ago=2)
    failed_document(tenant, "INV-1002", echo_flow, "data")
    triage_pass()
    daily_counts_refresh()
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=SyncRunStatus.SUCCEEDED,
                           finished_at=timezone.now())
    client.force_login(user)
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="flow-echo"' in html and "<svg" in html and "Echo (tests): documents per day, last 30 days" in html
    assert "Sent, posted or done (3)" in html and "Duplicate (2)" in html and "Failed (1)" in html
    assert 'id="console-zone">America/New_York<' in html
    assert "INV-1002" in html, "the oldest open failure"
    assert "echo: BIG02 is missing" in html, "the open problems"
    assert "E" + "DT" in html or "EST" in html, "times carry the zone's abbreviation"
    assert "Beta" not in html, "another tenant stays out of sight"
    assert "Tables" in html and "/admin/connector/document/" in html, "the tables are still one click away"
    assert "RAW-PAYLOAD" not in html


def test_the_chart_counts_each_outcome_on_its_local_day():
    tenant = make_tenant(time_zone="America/New_York")
    documents(tenant, 2, days_ago=0)
    documents(tenant, 1, state=DocumentState.DONE, days_ago=0, prefix="F")  # a file taken in
    documents(tenant, 1, state=DocumentState.NEEDS_MAPPING, days_ago=3)
    documents(tenant, 1, state=DocumentState.REJECTED, days_ago=3)
    documents(tenant, 4, days_ago=40)  # outside the 30 days
    scope = overview_scope(user=make_user(tenant=tenant), tenant_slug=None)
    daily_counts_refresh()
    chart = next(c for c in documents_per_day(scope=scope, now=timezone.now()) if c.flow.name == "echo")
    by_label = {s.label: s.values for s in chart.series}
    assert len(chart.days) == 30 and chart.total == 5
    assert by_label["Sent, posted or done"][-1] == 3
    assert by_label["Needs mapping"][-4] == 1 and by_label["Failed"][-4] == 1


def test_the_number_of_queries_does_not_grow_with_the_data_and_no_payload_is_read(client, echo_flow):
    tenant = make_tenant(slug="alpha")
    make_connections(tenant)
    user = make_user(tenant=tenant)
    client.force_login(user)
    documents(tenant, 2, days_ago=1)
    client.get("/admin/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/").status_code == 200
    for day in range(25):
        documents(tenant, 5, days_ago=day, prefix="M")
        documents(tenant, 2, state=DocumentState.FAILED, days_ago=day, prefix="M")
    for i in range(5):
        failed_document(tenant, f"F{i}", echo_flow, "data" if i % 2 else "config")
    triage_pass()
    daily_counts_refresh()
    with CaptureQueriesContext(connection) as many:
        assert client.get("/admin/").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    document_reads = [q["sql"] for q in many.captured_queries if '"connector_document"' in q["sql"]]
    assert document_reads and not any('."raw"' in sql or '."artifact"' in sql or '."mapped"' in sql
                                      for sql in document_reads)


def test_a_superuser_sees_every_tenant_or_picks_one(client):
    alpha = make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")
    beta = make_tenant("Beta GmbH", slug="beta", time_zone="Europe/Berlin")
    documents(alpha, 1)
    documents(beta, 2)
    daily_counts_refresh()
    client.force_login(make_user(superuser=True))
    html = client.get("/admin/").content.decode()
    assert "every tenant" in html and 'id="console-zone">UTC<' in html and "Sent, posted or done (3)" in html
    html = client.get("/admin/?tenant=beta").content.decode()
    assert 'id="console-zone">Europe/Berlin<' in html and "Sent, posted or done (2)" in html


def test_next_run_comes_from_the_schedule_and_connections_show_their_last_test(client):
    tenant = make_tenant(slug="alpha", time_zone="America/New_York")
    make_connections(tenant)
    VantagepointConnection.objects.filter(tenant=tenant).update(last_tested_at=timezone.now(),
                                                                last_test_result="OK\nLogged in as api")
    schedule = schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule
    schedule_cadence_set(schedule=schedule, every_minutes=5)
    last_run = timezone.now() - timedelta(minutes=1)
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(last_run_at=last_run)
    client.force_login(make_user(tenant=tenant))
    html = client.get("/admin/").content.decode()
    section = html[html.index('id="flow-echo"'):].split("</section>")[0]
    expected = local_time(last_run + timedelta(minutes=5), "America/New_York")
    assert f"{expected}; every 5 minutes" in section, section
    connections = html[html.index('id="console-connections"'):]
    assert "Vantagepoint" in connections and "OK" in connections and "never tested" in connections


def next_run_of(tenant, now):
    scope = overview_scope(user=make_user(tenant=tenant), tenant_slug=None)
    return next_runs(scope=scope, now=now)["echo"][0]


def test_a_daily_cadence_runs_next_at_its_wall_clock_time_in_the_tenants_zone_across_daylight_saving():
    tenant = make_tenant(slug="alpha", time_zone="America/New_York")
    schedule = schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule
    schedule_cadence_set(schedule=schedule, daily_at=time(7, 30))
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    # Saturday 7 March 2026, 08:00 EST, after today's run: next is Sunday 07:30, by then EDT.
    now = datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    task.last_run_at = datetime(2026, 3, 7, 12, 30, tzinfo=UTC)
    task.save(update_fields=["last_run_at"])
    run = next_run_of(tenant, now)
    assert run.when == datetime(2026, 3, 8, 11, 30, tzinfo=UTC) and run.when_text == "2026-03-08 07:30 EDT"
    assert run.cadence == "daily at 07:30 (America/New_York)" and run.words == ""
    # Never run yet (beat counts from when it loads it): the next 07:30 from now.
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=None)
    assert next_run_of(tenant, datetime(2026, 12, 1, 11, 0, tzinfo=UTC)).when_text == "2026-12-01 07:30 EST"
    task.refresh_from_db()
    assert next_run_at(task, now=datetime(2026, 12, 1, 13, 0, tzinfo=UTC)) == datetime(2026, 12, 2, 12, 30, tzinfo=UTC)


def test_paused_by_a_person_or_by_its_connections_and_skipped_ticks_are_said():
    tenant = make_tenant(slug="alpha")
    make_connections(tenant)
    schedule = schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule
    schedule_enable(schedule=schedule, enabled=False)
    run = next_run_of(tenant, timezone.now())
    assert run.when is None and run.words == "paused (switched off on the schedules page)"
    schedule_enable(schedule=schedule, enabled=True)
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(enabled=False)  # as connections off do
    assert next_run_of(tenant, timezone.now()).words == "paused (the tenant or a connection the flow needs is off)"
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
        enabled=True, last_run_at=timezone.now() - timedelta(hours=2))
    schedule_skip_record(tenant=tenant, flow_name="echo")
    schedule_skip_record(tenant=tenant, flow_name="echo")
    run = next_run_of(tenant, timezone.now())
    assert run.words == "due now" and run.skipped == 2
    assert run.skipped_text.startswith("2 ticks skipped (a run was still going), the last 20")


def test_a_tenant_never_scheduled_says_so():
    tenant = make_tenant(slug="alpha")
    assert next_run_of(tenant, timezone.now()).words == "not scheduled (its connections were never enabled)"


def test_the_login_page_still_guards_the_overview(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
