"""Bench of both EDI cycles end to end: real Celery workers on PostgreSQL and Redis, both
simulators served over HTTP, Cleo's per-path limit at its real 5 requests per second.

    python benches/cycle_bench.py            # 1,000 AR invoices; 100 supplier files of 10 (about 10 minutes)
    python benches/cycle_bench.py --quick    # 100 and 10 files: a smoke test, targets not judged

Rows, each on a tenant and simulators of its own:
- ar-810, 1 and 4 workers: a backlog of posted AR invoices in the Vantagepoint simulator,
  one beat tick of the cycle; the clock runs until the last invoice is an 810 in Cleo.
  Target: invoices per second / 5 (Cleo's limit on the upload path) >= 0.9 with either.
- 810-ap, 1 and 4 workers: supplier files of 10 invoices in Cleo's inbound folder, one tick
  of the Cleo inbox; the clock runs until every invoice is a posted AP voucher (and each file
  acknowledged and picked up). Target: >= 10 invoices per second with one worker, more with four.

A worker is one Celery process (solo pool) on the bench's own queue; the cycle fans one task
per document out to them, paced by the shared Redis limiter. Beside each figure, the floor:
the CPU the simulators themselves spent serving the row (both run in this process, each
request's thread time counted), as milliseconds per invoice and as the rate they alone
would allow. Every row is checked too: each invoice exactly once at the partner or in the AP
ledger, each file's 997 uploaded once, no document left failed or retrying, and the 429s
Cleo answered.

A database of its own (CYCLE_BENCH_DATABASE_URL, or DATABASE_URL's server and name plus
`_cycle_bench`) is created, migrated, then dropped; REDIS_URL and CELERY_BROKER_URL must
name Redis (the bench refuses the embedded broker: "on Redis" is what it measures). The
exit status is 1 when a target is missed (not with --quick). The machine is shared: the
load average is printed with the table.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from databases import bench_database_url as database_url  # noqa: E402 - benches/ is the script's folder
from databases import database_drop, database_recreate  # noqa: E402

CLEO_LIMIT = 5.0
AR_TARGET_RATIO = 0.9
AP_TARGET_RATE = 10.0
INVOICES_PER_FILE = 10
DEADLINE_SECONDS = 1800
PROFILE_DIR = ""  # --profile DIR: each worker dumps a cProfile of its tasks there


def bench_database_url() -> str:
    return database_url(override="CYCLE_BENCH_DATABASE_URL", suffix="_cycle_bench")


def environment_prepare(database_url: str) -> None:
    """This process and the workers: the bench database, Redis, fresh keys, production settings."""
    from cryptography.fernet import Fernet

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "cycle-bench-" + Fernet.generate_key().decode())
    os.environ.setdefault("CREDENTIAL_KEYS", Fernet.generate_key().decode())
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")


class TimedApp:
    """A simulator's WSGI app, the CPU time of the threads serving it added up."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.cpu = 0.0
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        started = time.thread_time()
        body = list(self.app(environ, start_response))
        spent = time.thread_time() - started
        with self._lock:
            self.cpu += spent
            self.requests += 1
        return body


@dataclass
class Row:
    flow: str
    workers: int
    invoices: int
    wall: float
    sim_cpu: float
    sim_requests: int
    rejected: int
    problems: list[str] = field(default_factory=list)
    target: str = ""
    met: bool | None = None

    @property
    def rate(self) -> float:
        return self.invoices / self.wall if self.wall else 0.0

    @property
    def floor_rate(self) -> float:
        return self.invoices / self.sim_cpu if self.sim_cpu else float("inf")


class Simulators:
    """Vantagepoint and Cleo (limit 5/s) served on 127.0.0.1 from this process."""

    def __init__(self) -> None:
        from sandbox import cleo as cleo_sandbox
        from sandbox import vantagepoint as vp_sandbox
        from sandbox.servers import serve_in_thread

        self.vp = vp_sandbox.create_app(seed_size=12)
        self.cleo = cleo_sandbox.CleoSimulator(rate_limit=CLEO_LIMIT)
        self.timed = [TimedApp(self.vp), TimedApp(self.cleo)]
        self.servers = [serve_in_thread(app, port=0) for app in self.timed]
        self.vp_url, self.cleo_url = (f"http://127.0.0.1:{s.server_address[1]}" for s, _ in self.servers)

    @property
    def cpu(self) -> float:
        return sum(t.cpu for t in self.timed)

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.timed)

    def close(self) -> None:
        for server, thread in self.servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def tenant_create(sims: Simulators, slug: str):
    from connector.schedules import schedules_ensure
    from sandbox import cleo as cleo_sandbox
    from sandbox import vantagepoint as vp_sandbox
    from tenants.models import CleoConnection, Tenant, VantagepointConnection

    tenant = Tenant.objects.create(name=f"Bench {slug}", slug=slug, legal_name="Bench Engineering LLP",
                                   address_line1="1 Main Street", city="Boston", state="MA", postal_code="02110")
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=f"{sims.vp_url}/Sandbox/api", database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP")
    CleoConnection.objects.create(tenant=tenant, enabled=True, base_url=sims.cleo_url,
                                  requests_per_second=int(CLEO_LIMIT), username=cleo_sandbox.SERVICE_USERNAME,
                                  password=cleo_sandbox.SERVICE_PASSWORD)
    schedules_ensure(tenants=[tenant])
    return tenant


class Workers:
    """`count` solo-pool workers of benches/cycle_worker.py on a queue of their own."""

    def __init__(self, count: int, log_dir: Path) -> None:
        from tests.workers import private_queue, process_env, worker_start

        self.queue = private_queue()
        env = process_env(BENCH_QUEUE=self.queue, LOG_LEVEL="INFO", **({"BENCH_PROFILE": PROFILE_DIR} if PROFILE_DIR else {}))
        self.logs = [log_dir / f"{self.queue}-{n}.log" for n in range(count)]
        self.processes = []
        for n, log in enumerate(self.logs):
            self.processes.append(worker_start(app="benches.cycle_worker", queue=f"{self.queue}", log_path=log,
                                               env={**env, "BENCH_WORKER": str(n)}, pool="solo"))
        # Distinct node names: worker_start names each after its queue.
        deadline = time.monotonic() + 120
        while not all(log.exists() and "ready." in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit("a bench worker did not start:\n" + "\n".join(
                    log.read_text()[-2000:] for log in self.logs if log.exists()))
            time.sleep(0.2)

    def tick(self, tenant, flow: str) -> None:
        from connector.tasks import run_flow

        run_flow.apply_async(kwargs={"tenant_id": tenant.pk, "flow": flow}, queue=self.queue)

    def stop(self) -> None:
        from tests.workers import process_stop

        for process in self.processes:
            process_stop(process)


def until(done: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {DEADLINE_SECONDS} s waiting for {what}")
        time.sleep(0.25)


def parked(tenant) -> list[str]:
    from connector.models import Document, DocumentState

    stuck = Document.objects.filter(tenant=tenant, state__in=(DocumentState.FAILED, DocumentState.RETRYING,
                                                               DocumentState.NEEDS_MAPPING))
    return [f"{d.flow} {d.external_key}: {d.state} {d.last_error[:200]}" for d in stuck[:5]]


def ar_810_row(*, invoices: int, workers: int, log_dir: Path) -> Row:
    from connector.models import Document, DocumentState
    from connector.sync import cursor_advance
    from connector.vantagepoint.records import format_datetime
    from edi.models import PartnerClient, TradingPartner
    from edi.outbound import AR_810
    from edi.x12 import parse_text
    from sandbox.cleo import OUTBOUND_FOLDER

    sims = Simulators()
    try:
        tenant = tenant_create(sims, f"ar-{workers}-{time.monotonic_ns()}")
        partner = TradingPartner.objects.create(
            tenant=tenant, name="Harbor EDI", our_isa_id="MLCONNECTOR", our_gs_id="MLCONNECTOR",
            their_isa_id="HARBORAP", their_gs_id="HARBORAP", outbound_folder=OUTBOUND_FOLDER, inbound_folder="")
        projects = [p for p in sims.vp.tables.projects if p["WBS2"].strip() == "" and p["Status"] == "A"]
        for client in sorted({p["BillingClientID"] for p in projects}):
            PartnerClient.objects.create(tenant=tenant, partner=partner, client_id=client, name=client)
        cursor_advance(tenant=tenant, stream=f"{AR_810}:vantagepoint:ar-invoices",
                       value=format_datetime(sims.vp.clock.now()))
        posted = []
        for n in range(invoices):
            sims.vp.clock.advance(1)
            posted.append(sims.vp.add_posted_invoice(wbs1=projects[n % len(projects)]["WBS1"])["Invoice"])
        pool = Workers(workers, log_dir)
        try:
            cpu_before, requests_before = sims.cpu, sims.requests
            started = time.monotonic()
            pool.tick(tenant, AR_810)
            finished = Document.objects.filter(tenant=tenant, flow=AR_810).exclude(
                state__in=(DocumentState.RECEIVED, DocumentState.MAPPED))
            until(lambda: finished.count() >= invoices or bool(parked(tenant)), what="the ar-810 backlog")
            wall = time.monotonic() - started
        finally:
            pool.stop()
        row = Row(AR_810, workers, invoices, wall, sims.cpu - cpu_before, sims.requests - requests_before,
                  sims.cleo.rejected())
        row.problems += parked(tenant)
        at_partner = Counter(i.invoice_number for f in sims.cleo.files(OUTBOUND_FOLDER)
                             for i in parse_text(f.content.decode()).invoices)
        if at_partner != Counter(posted):
            row.problems.append(f"at the partner: {sum(at_partner.values())} 810s for {len(posted)} invoices, "
                                f"{sum(1 for v in at_partner.values() if v > 1)} twice")
        return row
    finally:
        sims.close()


def ap_810_row(*, files: int, workers: int, log_dir: Path) -> Row:
    from connector.models import Document, DocumentState
    from edi.inbound import AP_810
    from edi.inbound.demo import DEMO_PARTNER, supplier_interchange, supplier_invoice
    from edi.inbox import INBOX
    from edi.models import TradingPartner
    from edi.x12 import read_997
    from sandbox.cleo import INBOUND_FOLDER, OUTBOUND_FOLDER

    sims = Simulators()
    try:
        tenant = tenant_create(sims, f"ap-{workers}-{time.monotonic_ns()}")
        TradingPartner.objects.create(tenant=tenant, **DEMO_PARTNER)
        numbers = []
        for f in range(files):
            batch = [f"BF-{f}-{n}" for n in range(INVOICES_PER_FILE)]
            numbers += batch
            sims.cleo.put_file(INBOUND_FOLDER, f"DEMOSUPPLY_810_{f}.edi", supplier_interchange(
                [supplier_invoice(number, po="2023001.00") for number in batch], interchange=1000 + f))
        invoices = len(numbers)
        pool = Workers(workers, log_dir)
        try:
            cpu_before, requests_before = sims.cpu, sims.requests
            started = time.monotonic()
            pool.tick(tenant, INBOX)
            posted = Document.objects.filter(tenant=tenant, flow=AP_810, state=DocumentState.POSTED)
            done = Document.objects.filter(tenant=tenant, flow=INBOX, state=DocumentState.DONE)
            until(lambda: (posted.count() >= invoices and done.count() >= files) or bool(parked(tenant)),
                  what="the 810-ap backlog")
            wall = time.monotonic() - started
        finally:
            pool.stop()
        row = Row(AP_810, workers, invoices, wall, sims.cpu - cpu_before, sims.requests - requests_before,
                  sims.cleo.rejected())
        row.problems += parked(tenant)
        in_ledger = Counter(r["Invoice"] for r in {(r["Invoice"], r["Batch"]): r for r in sims.vp.ledger("AP")
                                                   if r["Invoice"].startswith("BF-")}.values())
        if in_ledger != Counter(numbers):
            row.problems.append(f"AP ledger: {len(in_ledger)} of {invoices} invoices, "
                                f"{sum(1 for v in in_ledger.values() if v > 1)} twice")
        acks = Counter(group for f in sims.cleo.files(OUTBOUND_FOLDER)
                       for group in {r.group_control for r in read_997(f.content)})  # read_997: one result per set
        if acks != Counter(str(1000 + f) for f in range(files)):
            row.problems.append(f"997s: {sum(acks.values())} for {files} interchanges")
        return row
    finally:
        sims.close()


def table(rows: list[Row]) -> str:
    head = (f"{'flow':<8} {'workers':>7} {'invoices':>8} {'wall s':>7} {'inv/s':>6} {'sim ms/inv':>10} "
            f"{'sim floor/s':>11} {'429s':>5}  target")
    lines = [head, "-" * len(head)]
    for r in rows:
        verdict = "" if r.met is None else (" met" if r.met else " MISSED")
        lines.append(f"{r.flow:<8} {r.workers:>7} {r.invoices:>8} {r.wall:>7.1f} {r.rate:>6.2f} "
                     f"{r.sim_cpu / r.invoices * 1000:>10.1f} {r.floor_rate:>11.0f} {r.rejected:>5}  {r.target}{verdict}")
        lines += [f"         problem: {p}" for p in r.problems]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 invoices and 10 files; targets not judged")
    parser.add_argument("--invoices", type=int, help="AR invoices in the ar-810 backlog (default 1000)")
    parser.add_argument("--files", type=int, help="supplier files of 10 invoices (default 100)")
    parser.add_argument("--workers", default="1,4", help="worker counts, comma-separated (default 1,4)")
    parser.add_argument("--only", choices=("ar-810", "810-ap"), help="one flow's rows")
    parser.add_argument("--profile", metavar="DIR", help="each worker dumps a cProfile of its tasks into DIR")
    args = parser.parse_args(argv)
    global PROFILE_DIR
    PROFILE_DIR = str(Path(args.profile).resolve()) if args.profile else ""
    invoices = args.invoices or (100 if args.quick else 1000)
    files = args.files or (10 if args.quick else 100)
    counts = [int(n) for n in args.workers.split(",")]
    if not os.environ.get("REDIS_URL", "").startswith("redis") or \
            not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        print("cycle_bench needs Redis: set REDIS_URL and CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/2 and /3)")
        return 1
    url = bench_database_url()
    database_recreate(url)
    environment_prepare(url)
    import logging
    import tempfile

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="cycle-bench-") as logs:
            for workers in counts:
                if args.only in (None, "ar-810"):
                    rows.append(ar_810_row(invoices=invoices, workers=workers, log_dir=Path(logs)))
                    print(table(rows[-1:]).splitlines()[-1 - len(rows[-1].problems)], flush=True)
            for workers in counts:
                if args.only in (None, "810-ap"):
                    rows.append(ap_810_row(files=files, workers=workers, log_dir=Path(logs)))
                    print(table(rows[-1:]).splitlines()[-1 - len(rows[-1].problems)], flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(url)
    judge(rows, quick=args.quick)
    print()
    print(table(rows))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
          "sim = the simulators' own CPU (the floor: the rate they alone would allow)")
    failed = [r for r in rows if r.problems or r.met is False]
    return 1 if failed else 0


def judge(rows: list[Row], *, quick: bool) -> None:
    one_ap = next((r for r in rows if r.flow == "810-ap" and r.workers == 1), None)
    for r in rows:
        if r.flow == "ar-810":
            r.target = f"inv/s / {CLEO_LIMIT:g} = {r.rate / CLEO_LIMIT:.2f} >= {AR_TARGET_RATIO}"
            ok = r.rate / CLEO_LIMIT >= AR_TARGET_RATIO
        elif r.workers == 1:
            r.target = f">= {AP_TARGET_RATE:g} inv/s"
            ok = r.rate >= AP_TARGET_RATE
        else:
            r.target = f"> 1 worker's {one_ap.rate:.2f} inv/s" if one_ap else "(no 1-worker row)"
            ok = one_ap is None or r.rate > one_ap.rate
        r.met = None if quick else ok


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
