"""Kill rounds: real worker processes SIGKILLed at seeded random points of both EDI paths, and
after each kill nothing happens twice and nothing stays stuck.

Both simulators are served over HTTP from this process (sandbox/servers.py), so their state is
the partner's and Vantagepoint's truth, read here directly. One prefork worker (its own queue,
a short lock lifetime) runs the ticks the test queues the way beat would. Each round adds a
little backlog, arms one kill (tests/edi/kill_worker.py: a point and how many passes to let
by, both drawn from a seeded RNG), ticks the path's cycles, and then ticks clean cycles until
the path is quiet. The killed child is replaced by the pool at once and its task put back on
the queue, as a supervisor and the broker do in production.

At the end, against the simulators: every AR invoice is one 810 at the partner, every
supplier invoice one posted AP voucher, every supplier interchange answered by one 997, every
supplier file picked up once; and in our database nothing waits, retries, failed, or holds an
effect that is not confirmed.
"""
from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from connector.models import Document, DocumentState, Effect, EffectState, FlowSchedule, SyncRun, SyncRunStatus
from connector.schedules import schedules_ensure
from connector.sync import cursor_advance
from connector.tasks import run_flow
from connector.vantagepoint.records import format_datetime
from connector.work import documents_waiting
from edi.inbound import AP_810
from edi.inbound.demo import DEMO_PARTNER, supplier_interchange, supplier_invoice
from edi.inbox import INBOX
from edi.models import PartnerClient, TradingPartner
from edi.outbound import AR_810
from edi.x12 import parse_text, read_997
from sandbox import cleo as cleo_sandbox
from sandbox import vantagepoint as vp_sandbox
from sandbox.servers import serve_in_thread
from tenants.models import CleoConnection, Tenant, VantagepointConnection
from tests.edi.kill_worker import FIRED, PLAN
from tests.workers import private_queue, process_stop, worker_start

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

ROUNDS = int(os.environ.get("KILL_ROUNDS", "30"))
SEED = 810
LOCK_TTL = 2.0  # seconds, in the worker: a killed holder's lock frees within it
ROUND_TIMEOUT = 90.0
OUTBOUND, INBOUND, ARCHIVE = cleo_sandbox.OUTBOUND_FOLDER, cleo_sandbox.INBOUND_FOLDER, cleo_sandbox.PROCESSED_FOLDER

# Where a kill may land on each path, with how many times a round passes there (the skip is
# drawn below that, so every armed kill fires).
AR_POINTS = {"received": 1, "task_sent": 2, "effect_started": 2, "effect_made": 2, "effect_confirmed": 2,
             "step_written": 6}
INBOX_POINTS = {"received": 2, "task_sent": 3, "effect_started": 4, "effect_made": 4, "effect_confirmed": 4,
                "step_written": 10}

OPEN_STATES = (EffectState.INTENDED, EffectState.UNKNOWN)
PARKED = (DocumentState.RETRYING, DocumentState.FAILED, DocumentState.NEEDS_MAPPING)


@pytest.fixture
def served():
    """Both simulators on 127.0.0.1, Cleo's per-path limit off (pacing is not what is tested)."""
    vp = vp_sandbox.create_app(seed_size=12)
    cleo = cleo_sandbox.CleoSimulator(rate_limit=None, random_seed=SEED)
    servers = [serve_in_thread(app, port=0) for app in (vp, cleo)]
    yield vp, cleo, *(f"http://127.0.0.1:{server.server_address[1]}" for server, _ in servers)
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def tenant(served):
    vp, cleo, vp_url, cleo_url = served
    tenant = Tenant.objects.create(name="Kill Rounds LLP", slug="kill-rounds", legal_name="Kill Rounds LLP",
                                   address_line1="1 Main Street", city="Boston", state="MA", postal_code="02110")
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=f"{vp_url}/Sandbox/api", database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP")
    CleoConnection.objects.create(tenant=tenant, enabled=True, base_url=cleo_url, requests_per_second=100,
                                  username=cleo_sandbox.SERVICE_USERNAME, password=cleo_sandbox.SERVICE_PASSWORD)
    schedules_ensure(tenants=[tenant])
    return tenant


@dataclass
class Worker:
    """One prefork worker on its own queue, killed (its pool child) where the plan says."""

    plan_dir: Path
    log_path: Path
    queue: str = field(default_factory=private_queue)
    process: object = None

    def start(self) -> None:
        self.process = worker_start(
            app="tests.edi.kill_worker", queue=self.queue, log_path=self.log_path, pool="prefork",
            env=_env(self.plan_dir, self.queue))

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)

    def arm(self, point: str, skip: int) -> None:
        (self.plan_dir / FIRED).unlink(missing_ok=True)
        (self.plan_dir / PLAN).write_text(json.dumps({"point": point, "skip": skip}))

    def fired(self) -> dict | None:
        path = self.plan_dir / FIRED
        return json.loads(path.read_text()) if path.exists() else None

    def disarm(self) -> None:
        (self.plan_dir / PLAN).unlink(missing_ok=True)

    def tick(self, tenant: Tenant, flow: str) -> None:
        run_flow.apply_async(kwargs={"tenant_id": tenant.pk, "flow": flow}, queue=self.queue)

    def log(self) -> str:
        return self.log_path.read_text()[-6000:] if self.log_path.exists() else ""


def _env(plan_dir: Path, queue: str) -> dict[str, str]:
    from tests.workers import process_env

    return process_env(LOCK_TTL_SECONDS=str(LOCK_TTL), KILL_PLAN_DIR=str(plan_dir), KILL_QUEUE=queue,
                       LOG_LEVEL="INFO")


@pytest.fixture
def worker(tmp_path) -> Iterator[Worker]:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("kill rounds need PostgreSQL and Redis (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL), "
                    "as in CI: SQLite and the embedded broker are one machine's, not a crash's")
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    worker = Worker(plan_dir=plan_dir, log_path=tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def stuck(tenant: Tenant, flows: tuple[str, ...]) -> list[str]:
    """What keeps the path from being quiet, in words (empty: quiet)."""
    problems = []
    for flow in flows:
        for document in documents_waiting(tenant_id=tenant.pk, flow=flow)[:5]:
            problems.append(f"{flow} document {document.pk} {document.external_key} waits in {document.state} "
                            f"at step {document.step or '-'}")
    for effect in Effect.objects.filter(document__tenant=tenant, state__in=OPEN_STATES)[:5]:
        problems.append(f"effect {effect.name} of document {effect.document_id} is {effect.state}")
    for run in SyncRun.objects.filter(tenant=tenant, status=SyncRunStatus.RUNNING)[:5]:
        problems.append(f"run {run.pk} of {run.flow} is still running")
    return problems


def parked(tenant: Tenant) -> list[str]:
    return [f"{d.flow} document {d.pk} {d.external_key} {d.state}: {d.last_error}"
            for d in Document.objects.filter(tenant=tenant, state__in=PARKED)[:5]]


def play_rounds(worker: Worker, tenant: Tenant, *, points: dict[str, int], flows: tuple[str, ...],
                add_backlog: Callable[[int], None], quiet_outside: Callable[[], bool],
                twice: Callable[[], list[str]]) -> list[dict]:
    """ROUNDS rounds of: backlog, one armed kill, ticks, then clean ticks until quiet. Returns
    what each kill interrupted."""
    rng = random.Random(SEED + len(flows))
    kills = []
    for number in range(ROUNDS):
        add_backlog(number)
        point = rng.choice(sorted(points))
        worker.arm(point, rng.randrange(points[point]))
        started = timezone.now()
        for flow in flows:
            worker.tick(tenant, flow)
        deadline = time.monotonic() + ROUND_TIMEOUT
        next_tick = time.monotonic() + 3 * LOCK_TTL
        while True:
            assert not parked(tenant), f"round {number} ({point}): {parked(tenant)}\n{worker.log()}"
            fired = worker.fired()
            # A cycle that found nothing keeps no run: its schedule counts it (connector.sync).
            ran = all(SyncRun.objects.filter(tenant=tenant, flow=flow, started_at__gte=started,
                                             status=SyncRunStatus.SUCCEEDED).exists()
                      or FlowSchedule.objects.filter(tenant=tenant, flow=flow, last_quiet_at__gte=started).exists()
                      for flow in flows)
            problems = stuck(tenant, flows)
            if fired and ran and not problems and quiet_outside():
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"round {number}: killed at {fired or point + ' (not fired)'}, not quiet after "
                                     f"{ROUND_TIMEOUT:g} s: {problems or 'the cycles did not run'}\n{worker.log()}")
            if time.monotonic() > next_tick:  # the clean cycles, as beat would tick them
                for flow in flows:
                    worker.tick(tenant, flow)
                next_tick = time.monotonic() + 3 * LOCK_TTL
            time.sleep(0.2)
        kills.append(fired)
        assert not twice(), f"round {number}, killed at {fired}: {twice()}"
        print(f"round {number}: killed at {fired} ({time.monotonic() - deadline + ROUND_TIMEOUT:.1f} s)")
    return kills


def killed_runs_abandoned(tenant: Tenant, kills: list[dict]) -> None:
    """A run whose process was killed ends abandoned, found by the next (none is left running:
    `stuck` checked that every round)."""
    statuses = Counter(SyncRun.objects.filter(tenant=tenant).values_list("status", flat=True))
    killed_cycles = sum(1 for k in kills if k["point"] == "received")
    assert statuses[SyncRunStatus.ABANDONED] >= killed_cycles, (statuses, killed_cycles)
    assert all("found by run" in run.error for run in SyncRun.objects.filter(tenant=tenant,
                                                                             status=SyncRunStatus.ABANDONED))


def sent_twice(cleo) -> list[str]:
    names: dict[str, list[str]] = {}
    for file in cleo.files(OUTBOUND):
        for invoice in parse_text(file.content.decode()).invoices:
            names.setdefault(invoice.invoice_number, []).append(file.name)
    return [f"invoice {number} in {files}" for number, files in names.items() if len(files) > 1]


def answered_twice(cleo) -> list[str]:
    names: dict[str, list[str]] = {}
    for file in cleo.files(OUTBOUND):
        for group in {result.group_control for result in read_997(file.content)}:  # one result per set
            names.setdefault(group, []).append(file.name)
    return [f"interchange {number} in {files}" for number, files in names.items() if len(files) > 1]


def test_ar_810_killed_thirty_times_sends_every_invoice_once(worker, tenant, served):
    vp, cleo, _, _ = served
    project = next(p for p in vp.tables.projects if p["WBS2"].strip() == "" and p["Status"] == "A")
    partner = TradingPartner.objects.create(
        tenant=tenant, name="Harbor EDI", our_isa_id="MLCONNECTOR", our_gs_id="MLCONNECTOR", their_isa_id="HARBORAP",
        their_gs_id="HARBORAP", outbound_folder=OUTBOUND, inbound_folder="")
    PartnerClient.objects.create(tenant=tenant, partner=partner, client_id=project["BillingClientID"], name="Harbor")
    cursor_advance(tenant=tenant, stream=f"{AR_810}:vantagepoint:ar-invoices", value=format_datetime(vp.clock.now()))
    posted: list[str] = []

    def add_backlog(number: int) -> None:
        for _ in range(2):
            vp.clock.advance(60)
            posted.append(vp.add_posted_invoice(wbs1=project["WBS1"])["Invoice"])

    kills = play_rounds(worker, tenant, points=AR_POINTS, flows=(AR_810,), add_backlog=add_backlog,
                        quiet_outside=lambda: True, twice=lambda: sent_twice(cleo))

    assert len([k for k in kills if k]) == ROUNDS, "every round's kill fired"
    at_partner = Counter()
    for file in cleo.files(OUTBOUND):
        for invoice in parse_text(file.content.decode()).invoices:
            at_partner[invoice.invoice_number] += 1
    assert at_partner == Counter(posted), "every invoice exactly once at the partner"
    sent = Document.objects.filter(tenant=tenant, flow=AR_810)
    assert sent.count() == len(posted) and set(sent.values_list("state", flat=True)) == {DocumentState.SENT}
    assert not Effect.objects.filter(document__tenant=tenant).exclude(state=EffectState.CONFIRMED).exists()
    killed_runs_abandoned(tenant, kills)
    assert Counter(k["point"] for k in kills).keys() == AR_POINTS.keys(), "every point was hit"


def test_the_inbound_path_killed_thirty_times_posts_and_acknowledges_every_invoice_once(worker, tenant, served):
    vp, cleo, _, _ = served
    TradingPartner.objects.create(tenant=tenant, **DEMO_PARTNER)
    sent_invoices: list[str] = []
    interchanges: list[str] = []

    def add_backlog(number: int) -> None:
        numbers = [f"KR-{number}-{n}" for n in (1, 2)]
        interchange = 5000 + number
        cleo.put_file(INBOUND, f"DEMOSUPPLY_810_{number % 7}.edi",  # names repeat: a new file under an old name
                      supplier_interchange([supplier_invoice(n, po="2023001.00") for n in numbers],
                                           interchange=interchange))
        sent_invoices.extend(numbers)
        interchanges.append(str(interchange))

    kills = play_rounds(worker, tenant, points=INBOX_POINTS, flows=(INBOX, AP_810), add_backlog=add_backlog,
                        quiet_outside=lambda: not cleo.files(INBOUND), twice=lambda: answered_twice(cleo))

    assert len([k for k in kills if k]) == ROUNDS, "every round's kill fired"
    vouchers = {(row["Invoice"], row["Batch"]) for row in vp.ledger("AP") if row["Invoice"].startswith("KR-")}
    assert Counter(invoice for invoice, _ in vouchers) == Counter(sent_invoices), "every invoice posted once"
    answered = Counter(group for f in cleo.files(OUTBOUND) for group in {r.group_control for r in read_997(f.content)})
    assert answered == Counter(interchanges), "every interchange acknowledged once"
    assert {r.status for f in cleo.files(OUTBOUND) for r in read_997(f.content)} == {"A"}, "and accepted"
    assert len(cleo.files(ARCHIVE)) == ROUNDS and not cleo.files(INBOUND), "every file picked up once"
    states = Counter(Document.objects.filter(tenant=tenant).values_list("flow", "state"))
    assert states == {(INBOX, DocumentState.DONE): ROUNDS, (AP_810, DocumentState.POSTED): 2 * ROUNDS}, states
    assert not Effect.objects.filter(document__tenant=tenant).exclude(state=EffectState.CONFIRMED).exists()
    killed_runs_abandoned(tenant, kills)
    assert Counter(k["point"] for k in kills).keys() == INBOX_POINTS.keys(), "every point was hit"
