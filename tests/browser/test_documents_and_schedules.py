"""Finding an invoice by part of its number, and a finance admin changing a cadence and
pressing "Run now" (twice: the second finds nothing new), in a real browser (Debian's chromium) against a real Celery worker."""
import re

import pytest

from connector.documents import document_receive
from connector.flows import get_flow
from connector.models import FlowSchedule, SyncRun, SyncRunStatus, Trigger
from connector.schedules import schedule_ensure
from connector.tasks import run_flow
from edi.inbound import AP_810
from tenants.models import Role
from tests.factories import make_tenant, make_user
from tests.workers import private_queue, process_stop, worker_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ZONED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? E[SD]T")


def supplier_invoice(tenant, number: str, *, vendor: str, total: str, file: str):
    mapped = {"invoice": {"invoice_number": number, "currency": "USD", "total_computed": total, "po_number": "7731",
                          "parties": [{"role": "VN", "name": vendor, "id": "V90001"}]},
              "partner": "Demo Supply Co", "sender": "ZZ:DEMOSUPPLY", "file": f"Inbound/{file}"}
    document, _ = document_receive(tenant=tenant, flow=AP_810, external_key=f"ZZ:DEMOSUPPLY/1/1/{number}",
                                   raw=f"ST*810*0001~BIG*20240610*{number}~", source=f"Inbound/{file} set 0001",
                                   mapped=mapped)
    return document


def test_support_finds_ds_1002_by_typing_1002(page, live_server, login):
    tenant = make_tenant("Demo Engineering LLP", slug="demo", time_zone="America/New_York")
    make_user("sam", tenant=tenant, role=Role.SUPPORT)
    supplier_invoice(tenant, "DS-1001", vendor="Harbor Supply", total="500.00", file="DEMOSUPPLY_810_1001.edi")
    supplier_invoice(tenant, "DS-1002", vendor="Harbor Supply", total="980.00", file="DEMOSUPPLY_810_1002.edi")
    supplier_invoice(tenant, "DS-2001", vendor="Granite Steel", total="75.10", file="GRANITE_810_1.edi")

    login("sam")
    page.goto(f"{live_server.url}/admin/connector/document/")
    page.fill("#searchbar", "1002")
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r".*\?q=1002"))
    results = page.inner_text("#result_list")
    assert "DS-1002" in results and "DS-1001" not in results and "DS-2001" not in results
    row = page.locator("#result_list tbody tr", has_text="DS-1002")
    assert "Harbor Supply" in row.inner_text() and "980.00 USD" in row.inner_text()
    assert ZONED_TIME.search(row.inner_text()), "received at, in the tenant's zone, zone named"

    page.click("#result_list a:has-text('DS-1002')")
    page.wait_for_selector("text=Linked records")
    content = page.inner_text("#content")
    assert "Demo Supply Co" in content and "Harbor Supply" in content
    assert ZONED_TIME.search(content)


@pytest.fixture
def worker_on_own_queue(monkeypatch, tmp_path):
    """A real Celery worker; "Run now" queues to its queue only."""
    queue = private_queue()
    worker = worker_start(queue=queue, log_path=tmp_path / "worker.log")
    queue_now = run_flow.apply_async

    def to_own_queue(*args, **kwargs):
        return queue_now(*args, **kwargs, queue=queue)

    monkeypatch.setattr(run_flow, "apply_async", to_own_queue)
    yield
    process_stop(worker)


def test_a_finance_admin_changes_a_cadence_and_presses_run_now(page, live_server, login, echo_flow,
                                                              worker_on_own_queue):
    tenant = make_tenant("Demo Engineering LLP", slug="demo", time_zone="America/New_York")
    fiona = make_user("fiona", tenant=tenant, role=Role.FINANCE_ADMIN)
    schedule = schedule_ensure(tenant=tenant, flow=get_flow("echo")).schedule

    login("fiona")
    page.click("#content-main a[href$='/connector/flowschedule/']")
    row = page.locator("#result_list tbody tr", has_text="Echo (tests)")
    assert "every 5 minutes" in row.inner_text()
    row.locator("a:has-text('Echo (tests)')").click()

    page.check("input[name=cadence][value=daily]")
    page.fill("#id_daily_at", "07:30")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    task = FlowSchedule.objects.select_related("periodic_task__crontab").get(pk=schedule.pk).periodic_task
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("7", "30", "America/New_York")
    assert page.locator("input[name=cadence][value=daily]").is_checked()

    page.click(".object-tools button:has-text('Run now')")
    page.wait_for_url(re.compile(r".*\?run=[0-9a-f-]+$"))
    assert "The run you queued" in page.inner_text("#run-progress")
    page.wait_for_function("document.getElementById('run-progress').dataset.state === 'succeeded'", timeout=60_000)
    progress = page.inner_text("#run-progress")
    assert "Succeeded" in progress and "sent" in progress and "open the run" in progress
    run = SyncRun.objects.get(tenant=tenant, flow="echo")
    assert (run.status, run.trigger, run.user) == (SyncRunStatus.SUCCEEDED, Trigger.MANUAL, fiona)
    assert run.counts["sent"] == 2

    # Again: nothing new this time. No run is kept, and the page still says how it ended.
    page.click(".object-tools button:has-text('Run now')")
    page.wait_for_url(re.compile(r".*\?run=[0-9a-f-]+$"))
    page.wait_for_function("document.getElementById('run-progress').dataset.state === 'quiet'", timeout=60_000)
    progress = page.inner_text("#run-progress")
    assert "Nothing new" in progress and re.search(r"ran at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T, nothing new", progress)
    assert not page.locator("#run-link").is_visible(), "no run to open"
    assert list(SyncRun.objects.filter(tenant=tenant, flow="echo")) == [run]
    assert FlowSchedule.objects.get(pk=schedule.pk).quiet_count == 1
