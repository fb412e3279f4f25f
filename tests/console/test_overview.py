"""The admin's home: per flow, documents per day by outcome as SVG, the backlog, the oldest
open failure, last success and next run, connections; in the tenant's zone; a number of
queries that does not grow with the data, and no payload column read."""
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connector.models import Document, DocumentState, SyncRun, SyncRunStatus
from connector.schedules import RUN_FLOW_TASK
from console.overview import documents_per_day, overview_scope
from console.triage import triage_pass
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
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=SyncRunStatus.SUCCEEDED,
                           finished_at=timezone.now())
    client.force_login(user)
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="flow-echo"' in html and "<svg" in html and "Echo (tests): documents per day, last 30 days" in html
    assert "Sent or posted (3)" in html and "Duplicate (2)" in html and "Failed (1)" in html
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
    documents(tenant, 1, state=DocumentState.NEEDS_MAPPING, days_ago=3)
    documents(tenant, 1, state=DocumentState.REJECTED, days_ago=3)
    documents(tenant, 4, days_ago=40)  # outside the 30 days
    scope = overview_scope(user=make_user(tenant=tenant), tenant_slug=None)
    chart = next(c for c in documents_per_day(scope=scope, now=timezone.now()) if c.flow.name == "echo")
    by_label = {s.label: s.values for s in chart.series}
    assert len(chart.days) == 30 and chart.total == 4
    assert by_label["Sent or posted"][-1] == 2
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
    client.force_login(make_user(superuser=True))
    html = client.get("/admin/").content.decode()
    assert "every tenant" in html and 'id="console-zone">UTC<' in html and "Sent or posted (3)" in html
    html = client.get("/admin/?tenant=beta").content.decode()
    assert 'id="console-zone">Europe/Berlin<' in html and "Sent or posted (2)" in html


def test_next_run_comes_from_the_periodic_task_and_connections_show_their_last_test(client):
    tenant = make_tenant(slug="alpha")
    make_connections(tenant)
    VantagepointConnection.objects.filter(tenant=tenant).update(last_tested_at=timezone.now(),
                                                                last_test_result="OK\nLogged in as api")
    every_5, _ = IntervalSchedule.objects.get_or_create(every=300, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=f"echo for {tenant.slug}", task=RUN_FLOW_TASK, interval=every_5,
                                kwargs=json.dumps({"tenant_id": tenant.pk, "flow": "echo"}),
                                last_run_at=timezone.now() - timedelta(minutes=1))
    client.force_login(make_user(tenant=tenant))
    html = client.get("/admin/").content.decode()
    section = html[html.index('id="flow-echo"'):]
    assert "Next run" in section and "at the next beat tick" not in section.split("</section>")[0]
    connections = html[html.index('id="console-connections"'):]
    assert "Vantagepoint" in connections and "OK" in connections and "never tested" in connections


def test_the_login_page_still_guards_the_overview(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
