"""The operations console in a real browser (Debian's chromium): the overview of the demo
tenant (a screenshot kept as an artifact), triaging a failure group and replaying it with a
real worker, alerts arriving in the email outbox for a new failure and for silence on a
simulated clock, and the health endpoint."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from connector.clients import client_options
from connector.http import mount_transport, unmount_transport
from connector.models import DocumentState, SyncRun, SyncRunStatus, Trigger
from connector.ratelimit import LocalRateLimiter
from connector.sync import sync_run_execute
from console.alerts import alerts_evaluate
from console.health import beat_heartbeat_record
from console.models import Alert, AlertDelivery, AlertKind, AlertSettings, GroupReplay, ReplayStatus
from console.tasks import triage
from console.triage import triage_pass
from tenants.models import Role
from tests.console.conftest import failed_document
from tests.factories import make_tenant, make_user
from tests.sim_time import SimulatedTime

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ZONED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T")


@pytest.fixture
def artifacts(request, tmp_path_factory) -> Path:
    """Where a journey keeps what a person would look at (screenshots): TEST_ARTIFACTS_DIR when
    set (CI uploads it), else a pytest temporary folder; the test reports the path."""
    base = os.environ.get("TEST_ARTIFACTS_DIR")
    folder = Path(base) / request.node.name if base else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the overview of the demo tenant ---------------------------------------------------------------
@pytest.fixture
def demo_served_in_process():
    """`make demo`'s seed, with its two simulators mounted in process at the demo's URLs
    (instead of served on ports) and the supplier files the demo drops into Cleo."""
    from connector.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_seed
    from edi.demo import CLEO_PORT, VP_PORT
    from edi.inbound.demo import inbound_demo_files
    from sandbox import cleo as cleo_sandbox
    from sandbox import vantagepoint as vp_sandbox

    vp_sim = vp_sandbox.create_app()
    cleo_sim = cleo_sandbox.CleoSimulator(frozen_clock=True, random_seed=7)
    vp_url, cleo_url = f"http://127.0.0.1:{VP_PORT}/Sandbox/api", f"http://127.0.0.1:{CLEO_PORT}"
    mount_transport(vp_url, httpx.WSGITransport(app=vp_sim))
    mount_transport(cleo_url, cleo_sim.transport())
    sim_time = SimulatedTime(cleo_sim)
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    try:
        with client_options(vantagepoint={"sleep": lambda s: None}, cleo={"sleep": sim_time.sleep, "limiter": limiter}):
            tenant, _plan = demo_seed()
            for name, content in inbound_demo_files():
                cleo_sim.put_file(cleo_sandbox.INBOUND_FOLDER, name, content)
            yield tenant, DEMO_USERNAME, DEMO_PASSWORD
    finally:
        unmount_transport(vp_url)
        unmount_transport(cleo_url)


def test_the_overview_of_the_demo_tenant(page, live_server, login, demo_served_in_process, artifacts,
                                         record_property):
    tenant, username, password = demo_served_in_process
    for flow in ("ar-810", "cleo-inbox", "810-ap"):  # the demo's first cycles, run here
        sync_run_execute(tenant=tenant, flow_name=flow, trigger=Trigger.MANUAL, inline=True)
    triage()  # the console's periodic pass, as beat runs it: groups, alerts, the charts' daily counts
    waiting = tenant.documents.filter(state=DocumentState.NEEDS_MAPPING)
    assert waiting.filter(reference="DS-1002").exists(), "the demo's DS-1002 waits for a project mapping"

    login(username, password)
    page.wait_for_selector("#flow-ar-810 svg")
    shot = artifacts / "overview-demo-tenant.png"
    page.screenshot(path=str(shot), full_page=True)
    record_property("screenshot", str(shot))
    print(f"\nscreenshot of the demo tenant's overview: {shot}")
    assert shot.stat().st_size > 10_000

    for flow in ("ar-810", "810-ap"):
        card = page.locator(f"#flow-{flow}")
        assert card.locator("svg rect").count() > 0, f"{flow}: bars drawn"
        text = card.inner_text()
        assert "Last successful cycle" in text and ZONED_TIME.search(text), f"{flow}: times in the tenant's zone"
        assert "every 30 seconds" in text or "due now" in text or ZONED_TIME.search(text.split("Next run")[1])
    assert "Sent, posted or done (" in page.inner_text("#flow-ar-810")
    inbound = page.inner_text("#flow-810-ap")
    assert re.search(r"\d+ needs mapping", inbound), inbound
    problems = page.inner_text("#console-triage")
    assert "Oldest open failure" in problems and "Waiting on" in problems
    connections = page.inner_text("#console-connections")
    assert "Vantagepoint" in connections and "Cleo" in connections

    # From the backlog to the documents waiting, in one click.
    page.click("#flow-810-ap a:has-text('needs mapping')")
    page.wait_for_selector("#result_list")
    assert "DS-1002" in page.inner_text("#result_list")


# -- triage: a failure group replayed by a real worker ---------------------------------------------
@pytest.fixture
def worker_on_own_queue(tmp_path):
    """A real Celery worker on a queue of its own; what the test process sends goes there."""
    from connector.celery import app as celery_app
    from tests.workers import private_queue, worker_start, worker_stop

    queue = private_queue()
    worker = worker_start(queue=queue, log_path=tmp_path / "worker.log", app="tests.console.worker_app",
                          env={"TEST_QUEUE": queue})
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield tmp_path / "worker.log"
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker_stop(worker)


@pytest.mark.worker
def test_support_triages_a_failure_group_and_replays_it(page, live_server, login, echo_flow, worker_on_own_queue):
    tenant = make_tenant("Demo Engineering LLP", slug="demo", time_zone="America/New_York")
    sam = make_user("sam", tenant=tenant, role=Role.SUPPORT)
    for key in ("INV-2001", "INV-2002", "INV-2003"):
        failed_document(tenant, key, echo_flow, "config")
    triage_pass()

    login("sam")
    problems = page.locator("#console-triage")
    assert "3" in problems.locator("tbody tr").first.inner_text()
    problems.locator("tbody tr a").first.click()
    page.wait_for_selector("text=Replay all in this group")
    members = page.inner_text("#content")
    assert all(key in members for key in ("INV-2001", "INV-2002", "INV-2003"))

    page.click("a:has-text('Replay all in this group')")
    page.click("input[type=submit][value='Yes, replay 3 documents']")
    page.wait_for_url(re.compile(r".*/console/groupreplay/\d+/change/$"))
    assert "Queued 3 documents" in page.inner_text(".messagelist")
    assert page.locator("#replay-progress progress").count() == 1
    # The page refreshes itself while the worker works; it ends with the outcome.
    page.wait_for_function("document.getElementById('replay-progress')"
                           "&& document.getElementById('replay-progress').innerText.includes('3 of 3 finished')",
                           timeout=90_000)
    assert "sent: 3" in page.inner_text("#replay-outcomes")
    replay = GroupReplay.objects.get()
    assert (replay.status, replay.user) == (ReplayStatus.FINISHED, sam)
    assert set(tenant.documents.values_list("state", flat=True)) == {DocumentState.SENT}
    assert "console.replay_item_finished" in worker_on_own_queue.read_text()

    triage_pass()  # the next periodic pass resolves the group
    page.goto(f"{live_server.url}/admin/")
    assert "No open problem." in page.inner_text("#console-triage")


# -- alerts in the email outbox, on a simulated clock ---------------------------------------------
def test_alerts_arrive_by_email_for_a_new_failure_and_for_silence(page, live_server, login, echo_flow,
                                                                   mailoutbox):
    tenant = make_tenant("Demo Engineering LLP", slug="demo", time_zone="America/New_York")
    make_user("fiona", tenant=tenant, role=Role.FINANCE_ADMIN)
    login("fiona")
    page.goto(f"{live_server.url}/admin/console/alertsettings/add/")
    page.select_option("#id_tenant", str(tenant.pk))
    page.fill("#id_email_recipients", "finance@demo-engineering.example")
    page.click("#silence_rules-group .add-row a")
    page.select_option("#id_silence_rules-0-flow", "echo")
    page.fill("#id_silence_rules-0-minutes_without_success", "30")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    settings = AlertSettings.objects.get(tenant=tenant)
    assert settings.silence_rules.get().minutes_without_success == 30

    now = timezone.now()  # the simulated clock starts here
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED, status=SyncRunStatus.SUCCEEDED,
                           started_at=now, finished_at=now)
    failed_document(tenant, "INV-3001", echo_flow, "data")
    triage_pass(now=now)
    alerts_evaluate(now=now)
    assert [m.subject for m in mailoutbox] == [
        "[ml-connector] Demo Engineering LLP: new problem in echo: echo: BIG02 is missing"]
    assert mailoutbox[0].to == ["finance@demo-engineering.example"] and "INV-3001" not in mailoutbox[0].subject

    alerts_evaluate(now=now + timedelta(minutes=10))  # nothing new: no second message
    assert len(mailoutbox) == 1

    later = now + timedelta(minutes=31)  # no successful cycle since `now`: the flow went silent
    alerts_evaluate(now=later)
    assert len(mailoutbox) == 2
    silence = mailoutbox[1]
    assert silence.subject == "[ml-connector] Demo Engineering LLP: Echo (tests) has had no successful cycle for 30 minutes"
    assert ZONED_TIME.search(silence.body), "times in the tenant's zone"

    SyncRun.objects.create(tenant=tenant, flow="echo", trigger=Trigger.SCHEDULED, status=SyncRunStatus.SUCCEEDED,
                           started_at=later + timedelta(minutes=1), finished_at=later + timedelta(minutes=1))
    alerts_evaluate(now=later + timedelta(minutes=2))
    assert mailoutbox[2].subject.startswith("[ml-connector] Resolved: Demo Engineering LLP: Echo (tests) has had no")

    # Every alert sent is listed in the admin, with its deliveries.
    page.goto(f"{live_server.url}/admin/console/alert/")
    listing = page.inner_text("#result_list")
    assert "new problem in echo" in listing and "no successful cycle for 30 minutes" in listing
    page.click("#result_list a:has-text('no successful cycle')")
    detail = page.inner_text("#content")
    assert "finance@demo-engineering.example" in detail and "resolved" in detail.lower()
    assert Alert.objects.filter(kind=AlertKind.NO_SUCCESS).count() == 1
    assert AlertDelivery.objects.filter(ok=True).count() == 3


# -- the health endpoint ------------------------------------------------------------------------------
def test_the_health_endpoint_says_what_is_up_and_what_is_down(page, live_server):
    beat_heartbeat_record()
    response = page.goto(f"{live_server.url}/health/")
    assert response.status == 200
    text = page.inner_text("body")
    assert "Database" in text and "Broker" in text and "BeatSeenRecently" in text
    assert "Unavailable" not in text

    beat_heartbeat_record(now=timezone.now() - timedelta(hours=1))  # beat stopped an hour ago
    response = page.goto(f"{live_server.url}/health/")
    assert response.status == 500
    assert "beat has not been seen for" in page.inner_text("body")
    json_response = page.goto(f"{live_server.url}/health/?format=json")
    assert json_response.status == 500 and json_response.json()["Database(alias='default')"] == "OK"


# -- fixing a mapping replays what waits on it -------------------------------------------------------
def test_saving_the_missing_mapping_replays_the_waiting_invoice_until_it_posts(page, live_server, login,
                                                                               demo_served_in_process):
    tenant, username, password = demo_served_in_process
    for flow in ("ar-810", "cleo-inbox", "810-ap"):
        sync_run_execute(tenant=tenant, flow_name=flow, trigger=Trigger.MANUAL, inline=True)
    triage()
    ds_1002 = tenant.documents.get(reference="DS-1002")
    assert ds_1002.state == DocumentState.NEEDS_MAPPING and ds_1002.last_error == "no project for PO 7731"

    login(username, password)
    page.goto(f"{live_server.url}/admin/connector/document/?q=DS-1002")
    page.click("#result_list a:has-text('DS-1002')")
    page.click("a:has-text('Create the project mapping for 7731')")
    assert page.input_value("#id_source_value") == "7731"
    page.fill("#id_target", "2023001.00")
    page.click("input[name=_save]")
    message = page.locator(".messagelist .success", has_text="Replaying the 1 document waiting on")
    assert "project mapping 7731 → 2023001.00" in message.inner_text()
    message.locator("a:has-text('follow their progress')").click()
    page.wait_for_function("document.getElementById('replay-progress')"
                           "&& document.getElementById('replay-progress').innerText.includes('1 of 1 finished')",
                           timeout=60_000)
    assert "posted: 1" in page.inner_text("#replay-outcomes")
    ds_1002.refresh_from_db()
    assert ds_1002.state == DocumentState.POSTED, ds_1002.last_error
