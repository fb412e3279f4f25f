"""Each tenant's outside systems as their last real calls found them: recorded by the HTTP
layer for every client built for a tenant's connection, a failing call at once, ok calls at
most once a period per tenant and system; "Test connections" writes it too; the overview's
connections panel shows "last call … ok" or "failing since …: 503 from Cleo" in the
tenant's zone. Never a body, a header or a secret."""
from datetime import timedelta

import httpx
import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import connector.call_status as call_status
import tenants.connection_checks as checks
from billing.stripe.client import StripeBillingClient
from connector.call_status import call_outcome, call_status_record
from connector.failures import ConfigFailure, TransientFailure
from connector.http import HttpPolicy, PolicyClient
from connector.models import ConnectionStatus
from connector.vantagepoint.session import VantagepointSession
from console.zones import local_time
from edi.cleo.client import CleoClient
from tenants.connection_checks import connection_check_run
from tenants.models import CleoConnection, Role, StripeConnection, VantagepointConnection
from tests.factories import make_connections, make_tenant, make_user

pytestmark = pytest.mark.django_db
ONE_TRY = HttpPolicy(max_attempts=1)
SECRET_BODY = '{"error": "sk_live_TOPSECRET for acme"}'


class Answers:
    """A transport answering the statuses it is given, in turn (the last one repeats)."""

    def __init__(self, *statuses):
        self.statuses = list(statuses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(status, Exception):
            raise status
        return httpx.Response(status, text=SECRET_BODY)


def client_for(tenant, answers: Answers, system="cleo", policy=ONE_TRY) -> PolicyClient:
    return PolicyClient(f"http://{system}-{tenant.pk}.test", system=system, policy=policy,
                        transport=httpx.MockTransport(answers), sleep=lambda s: None, tenant_id=tenant.pk)


def status_of(tenant, system="cleo") -> ConnectionStatus:
    return ConnectionStatus.objects.get(tenant=tenant, system=system)


def test_a_failing_call_shows_at_once_after_ok_calls():
    tenant = make_tenant()
    answers = Answers(200, 200, 503)
    client = client_for(tenant, answers)
    client.request("GET", "/folders")
    client.request("GET", "/folders")
    assert status_of(tenant).ok

    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")

    status = status_of(tenant)
    assert (status.ok, status.problem) == (False, "503")
    assert status.failing_since == status.last_call_at and timezone.now() - status.failing_since < timedelta(seconds=5)
    assert "TOPSECRET" not in str(ConnectionStatus.objects.values().get())


def test_ok_calls_are_throttled_to_one_write_a_period():
    tenant = make_tenant()
    client = client_for(tenant, Answers(200))
    client.request("GET", "/folders")
    first = status_of(tenant).last_call_at

    with CaptureQueriesContext(db_connection) as queries:
        for _ in range(200):
            client.request("GET", "/folders")
    assert len(queries.captured_queries) == 0, "ok calls inside the period cost no query at all"
    assert status_of(tenant).last_call_at == first


def test_an_ok_call_writes_again_once_the_period_has_passed(monkeypatch):
    tenant = make_tenant()
    client = client_for(tenant, Answers(200))
    client.request("GET", "/folders")
    ConnectionStatus.objects.filter(tenant=tenant).update(last_call_at=timezone.now() - timedelta(minutes=5))
    monkeypatch.setattr(call_status, "EVERY_SECONDS", 0)

    client.request("GET", "/folders")

    assert timezone.now() - status_of(tenant).last_call_at < timedelta(seconds=5)


def test_a_long_outage_writes_once_a_period_and_keeps_since_when():
    tenant = make_tenant()
    client = client_for(tenant, Answers(503))
    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")
    first = status_of(tenant)

    with CaptureQueriesContext(db_connection) as queries:
        for _ in range(50):
            with pytest.raises(TransientFailure):
                client.request("GET", "/folders")
    writes = [q for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 50, "one conditional UPDATE per failing call ..."
    again = status_of(tenant)
    assert (again.last_call_at, again.failing_since) == (first.last_call_at, first.failing_since), \
        "... that changes no row while the outcome stays the same"


def test_another_problem_shows_at_once_and_recovery_clears_the_failure():
    tenant = make_tenant()
    client = client_for(tenant, Answers(503, httpx.ConnectTimeout("timed out"), 200))
    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")
    since = status_of(tenant).failing_since
    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")
    status = status_of(tenant)
    assert (status.ok, status.problem, status.failing_since) == (False, "ConnectTimeout", since)

    client.request("GET", "/folders")
    status = status_of(tenant)
    assert (status.ok, status.problem, status.failing_since) == (True, "", None)


def test_ok_to_failing_shows_at_once_even_when_another_process_wrote_last():
    """This process last saw Cleo failing; another one has since written ok. A new failure
    here must not be taken for "nothing changed"."""
    tenant = make_tenant()
    client = client_for(tenant, Answers(503))
    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")
    ConnectionStatus.objects.filter(tenant=tenant).update(ok=True, problem="", failing_since=None)  # the other process

    with pytest.raises(TransientFailure):
        client.request("GET", "/folders")

    assert status_of(tenant).ok is False


def test_a_retried_call_that_succeeds_is_ok_and_the_final_outcome_counts():
    tenant = make_tenant()
    client = client_for(tenant, Answers(503, 503, 200), policy=HttpPolicy(max_attempts=3))
    client.request("GET", "/folders")
    assert status_of(tenant).ok


def test_what_counts_as_failing():
    assert call_outcome(status=200) == (True, "")
    assert call_outcome(status=404) == (True, ""), "the system answered"
    assert call_outcome(status=422) == (True, "")
    assert call_outcome(status=401) == (False, "401")
    assert call_outcome(status=429) == (False, "429")
    assert call_outcome(status=502) == (False, "502")
    assert call_outcome(status=None, error="ConnectError") == (False, "ConnectError")


def test_a_client_without_a_tenant_records_nothing():
    with pytest.raises(TransientFailure):
        PolicyClient("http://hooks.test", system="alert webhook", policy=ONE_TRY,
                     transport=httpx.MockTransport(Answers(500)), sleep=lambda s: None).request("GET", "/")
    assert not ConnectionStatus.objects.exists()


def test_the_three_systems_clients_report_for_their_tenant():
    tenant = make_tenant()
    make_connections(tenant)
    failing = httpx.MockTransport(Answers(503))
    clients = [
        VantagepointSession(VantagepointConnection.objects.get(tenant=tenant), transport=failing, policy=ONE_TRY,
                            sleep=lambda s: None),
        CleoClient(CleoConnection.objects.get(tenant=tenant), transport=failing, policy=ONE_TRY, sleep=lambda s: None),
        StripeBillingClient(StripeConnection.objects.get(tenant=tenant), transport=failing, policy=ONE_TRY,
                            sleep=lambda s: None),
    ]
    for each in clients:
        with pytest.raises(TransientFailure):
            each.http.request("GET", "/ping")

    rows = {row.system: (row.ok, row.problem) for row in ConnectionStatus.objects.filter(tenant=tenant)}
    assert rows == {"vantagepoint": (False, "503"), "cleo": (False, "503"), "stripe": (False, "503")}


def test_test_connections_updates_it_whatever_the_throttle(monkeypatch):
    tenant = make_tenant()
    make_connections(tenant)
    vp = VantagepointConnection.objects.get(tenant=tenant)
    call_status_record(tenant_id=tenant.pk, system="vantagepoint", ok=True)

    def refused(connection):
        raise ConfigFailure("Vantagepoint refused the login", status=401, system="vantagepoint")

    monkeypatch.setitem(checks._checks, VantagepointConnection, refused)
    connection_check_run(vp)
    status = status_of(tenant, "vantagepoint")
    assert (status.ok, status.problem) == (False, "test failed: 401")

    class Passed:
        ok, lines, warnings = True, ["Logged in"], []

    monkeypatch.setitem(checks._checks, VantagepointConnection, lambda connection: Passed())
    connection_check_run(vp)
    assert status_of(tenant, "vantagepoint").ok, "written at once, though ok came in the same period"


def test_the_overview_panel_shows_the_last_call_in_the_tenants_zone(client):
    tenant = make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")
    make_connections(tenant)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    client.get("/admin/")
    with CaptureQueriesContext(db_connection) as before:
        html = client.get("/admin/").content.decode()
    panel = html[html.index('id="console-connections"'):].split("</section>")[0]
    assert panel.count("no call yet") == 3

    client_for(tenant, Answers(200), system="vantagepoint").request("GET", "/ping")
    with pytest.raises(TransientFailure):
        client_for(tenant, Answers(503), system="cleo").request("GET", "/ping")
    ok_at = status_of(tenant, "vantagepoint").last_call_at
    failing_since = status_of(tenant, "cleo").failing_since

    with CaptureQueriesContext(db_connection) as queries:
        html = client.get("/admin/").content.decode()
    panel = html[html.index('id="console-connections"'):].split("</section>")[0]
    assert f"last call {local_time(ok_at, 'America/New_York')} ok" in panel
    assert f"failing since {local_time(failing_since, 'America/New_York')}: 503 from Cleo" in panel
    assert "no call yet" in panel, "Stripe has had no call"
    assert "TOPSECRET" not in html
    assert len(queries.captured_queries) == len(before.captured_queries), "the statuses cost no query of their own"
