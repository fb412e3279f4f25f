"""Bench of the ar-stripe flow against Stripe's test-mode rate limit: posted AR invoices of 5
lines each become finalized Stripe invoices, through the Stripe simulator served over HTTP.

    python benches/stripe_bench.py            # 1,000 invoices (about 8,000 requests: 5-6 minutes)
    python benches/stripe_bench.py --quick    # 100 invoices, a smoke test of the script, target not judged

The Stripe simulator runs in a process of its own (sandbox.servers on 127.0.0.1:--port, 8320
by default), real time, its rate limit at 25 requests/s per account like Stripe's test mode:
over it, 429 with Stripe-Should-Retry. Vantagepoint is its simulator in process (1,000
invoices posted over 20 client firms, the tenant billing every firm). The bench's database is
its own PostgreSQL database (STRIPE_BENCH_DATABASE_URL, or DATABASE_URL's server and name plus
`_stripe_bench`), created, migrated, then dropped. The documents are fanned out over
`--processes` forked processes (3 when REDIS_URL is set, else 1) of `--workers` threads (12)
each, which run them through the flow's steps as Celery worker processes would, all pacing
Stripe through the one shared limiter (connector/ratelimit.py: Redis across processes). A
document waits mostly on PostgreSQL's commits (about 60 statements each, measured in one
thread under cProfile), so threads overlap well (one process: 4 threads reached 0.69 of the
limit, 10 0.91 at a load average of 8); processes get more of a busy machine's CPU.

Figures, from the simulator's own log of requests: the requests it accepted per second over
the flow's run, ÷ its limit; the 429s (a refused request spent a slot of the limiter: on a
loaded machine a thread that wakes late sends next to one that woke on time, and Stripe's
one-second window counts both); duplicates (a Vantagepoint invoice with more than one Stripe
invoice, a firm with more than one customer). The reference row, measured in the same run
against the same simulator and fanned out the same way: a bare StripeBillingClient sending
GET /v1/account through the same limiter, the ceiling the pacing allows on this machine now
without any of the flow's work.

Target (issue 11): achieved rate ÷ limit ≥ 0.9 and 0 duplicates; exit status 1 on a miss
(not with --quick). The machine is shared: the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from databases import bench_database_url as database_url  # noqa: E402 - benches/ is the script's folder
from databases import database_drop, database_recreate  # noqa: E402

TARGET = 0.9
LIMIT = 25.0
LINES = 5
FIRMS = 20
SERVE = ("import sys; from sandbox.servers import create_simulator, serve; "
         "serve(create_simulator('stripe', deliver_webhooks=False, rate_limit=float(sys.argv[2])), "
         "port=int(sys.argv[1])).serve_forever()")


def bench_database_url() -> str:
    return database_url(override="STRIPE_BENCH_DATABASE_URL", suffix="_stripe_bench")


@dataclass
class Row:
    what: str
    units: str
    count: int
    accepted: int
    rejected_429: int
    seconds: float
    duplicates: int | None = None

    @property
    def rate(self) -> float:
        return (self.accepted - 1) / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / LIMIT


def fan_out(job, items: list, *, processes: int, threads: int) -> list[str]:
    """Run `job(item)` over the items in `processes` forked processes of `threads` threads each,
    as Celery worker processes would; returns the errors the jobs returned."""
    import multiprocessing

    from django.db import connection, connections

    def run_threads(share: list, errors: list[str]) -> None:
        work: queue.Queue = queue.Queue()
        for item in share:
            work.put(item)

        def worker() -> None:
            try:
                while True:
                    try:
                        item = work.get_nowait()
                    except queue.Empty:
                        return
                    error = job(item)
                    if error:
                        errors.append(error)
            finally:
                connection.close()

        pool = [threading.Thread(target=worker, name=f"worker-{n}") for n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    errors: list[str] = []
    if processes == 1:
        run_threads(items, errors)
        return errors
    connections.close_all()  # a forked child opens its own
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child(share: list) -> None:
        found: list[str] = []
        run_threads(share, found)
        results.put(found)

    children = [context.Process(target=child, args=(items[n::processes],)) for n in range(processes)]
    for process in children:
        process.start()
    for _ in children:
        errors.extend(results.get())
    for process in children:
        process.join()
    return errors


def accepted_window(records: list[dict], since: float) -> tuple[int, int, float]:
    """(accepted, 429s, seconds from the first to the last accepted) of the API requests since `since`."""
    api = [r for r in records if r["at"] >= since and not r["path"].startswith("/_sandbox")]
    ok = sorted(r["at"] for r in api if r["status"] == 200)
    limited = sum(1 for r in api if r["status"] == 429)
    return len(ok), limited, (ok[-1] - ok[0]) if len(ok) > 1 else 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 invoices; the target is not judged")
    parser.add_argument("--invoices", type=int, default=None)
    parser.add_argument("--workers", type=int, default=12, help="threads running documents, as Celery workers would")
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes (default 3 with REDIS_URL, whose limiter they share; else 1)")
    parser.add_argument("--port", type=int, default=8320)
    args = parser.parse_args(argv)
    if args.processes is None:
        args.processes = 3 if os.environ.get("REDIS_URL") else 1
    if args.processes > 1 and not os.environ.get("REDIS_URL"):
        print("more than one process needs REDIS_URL: the processes pace Stripe through one Redis limiter")
        return 1
    invoices = args.invoices or (100 if args.quick else 1000)

    from cryptography.fernet import Fernet

    database_url = bench_database_url()
    os.environ.update({
        "DATABASE_URL": database_url + ("&" if "?" in database_url else "?") + "conn_max_age=600",
        "DEBUG": "1", "SECRET_KEY": "stripe-bench-" + os.urandom(16).hex(),
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(), "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "connector.settings",
    })
    try:
        database_recreate(database_url)
    except Exception as exc:  # noqa: BLE001 - say what is missing and stop
        print(f"stripe bench needs PostgreSQL: {database_url} could not be created ({exc}); "
              "set STRIPE_BENCH_DATABASE_URL or DATABASE_URL")
        return 1
    simulator = subprocess.Popen([sys.executable, "-c", SERVE, str(args.port), str(LIMIT)], cwd=ROOT)
    try:
        return _run(args, invoices, database_url)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        try:
            database_drop(database_url)
        except Exception as exc:  # noqa: BLE001 - the figures are printed; say what is left behind
            print(f"(could not drop {database_url}: {exc})")


def _run(args: argparse.Namespace, invoices: int, database_url: str) -> int:
    import logging

    import django
    import httpx

    django.setup()
    for noisy in ("httpx", "connector", "billing", "celery", "kombu"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    from billing.ar_stripe import AR_STRIPE
    from billing.models import StripeBilling, StripeClients
    from billing.stripe import StripeBillingClient
    from connector.clients import vantagepoint_client
    from connector.documents import document_receive
    from connector.http import mount_transport
    from connector.models import Document, DocumentState, Trigger
    from connector.pipeline import document_process
    from connector.ratelimit import shared_limiter
    from connector.vantagepoint.ar_invoices import ar_invoice_to_json
    from sandbox import stripe as stripe_sandbox
    from sandbox import vantagepoint as vp_sandbox
    from tenants.models import StripeConnection, Tenant, VantagepointConnection

    base = f"http://127.0.0.1:{args.port}"
    sim = httpx.Client(base_url=base, timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            sim.get("/_sandbox/state").raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                print(f"the Stripe simulator did not start on {base}")
                return 1
            time.sleep(0.2)

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Bench Engineering", slug=f"bench-{os.urandom(3).hex()}")
    vp_url = "http://vp.bench/Sandbox/api"
    vp = vp_sandbox.create_app(seed_size=FIRMS)
    mount_transport(vp_url, httpx.WSGITransport(app=vp))
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=vp_url, database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET)
    stripe_connection = StripeConnection.objects.create(
        tenant=tenant, enabled=True, secret_key=stripe_sandbox.SANDBOX_SECRET_KEY, api_base=base,
        requests_per_second=int(LIMIT))
    StripeBilling.objects.create(tenant=tenant, clients=StripeClients.ALL, currency="usd")

    # 1,000 posted invoices of 5 lines over the firms' projects, read back as the stream reads them.
    projects = [p for p in vp.tables.projects if p["WBS2"].strip() == "" and p["Status"] == "A"]
    ours = set()
    for n in range(invoices):
        lines = [{"WBS2": " ", "WBS3": " ", "Account": "4010.00", "Description": f"Line {k + 1}",
                  "Quantity": Decimal(1 + (n + k) % 9), "UnitPrice": Decimal(95 + 5 * k) + Decimal(n % 100) / 100}
                 for k in range(LINES)]
        made = vp.add_posted_invoice(wbs1=projects[n % len(projects)]["WBS1"], lines=lines)
        ours.add((made["Invoice"], made["Period"], made["PostSeq"]))
    posted = {}
    with vantagepoint_client(tenant) as client:
        cursor = None
        while True:
            page = client.ar_invoices_since(cursor, field="PostDate")
            posted.update({i.key: i for i in page.invoices if (i.invoice, i.period, i.post_seq) in ours})
            if page.complete or page.next_cursor is None or page.next_cursor == cursor:
                break
            cursor = page.next_cursor
    posted = list(posted.values())
    if len(posted) != invoices:
        print(f"read {len(posted)} of the {invoices} invoices posted")
        return 1
    documents = [document_receive(tenant=tenant, flow=AR_STRIPE, external_key=i.key, raw=ar_invoice_to_json(i),
                                  source="bench")[0].pk for i in posted]
    connection.close()

    fan = f"{args.processes} process{'es' if args.processes > 1 else ''} × {args.workers} threads"

    # The reference: the bare client, paced by the same limiter, fanned out the same way.
    reference_requests = max(50, invoices)

    def account(n: int) -> str | None:
        with StripeBillingClient(stripe_connection, limiter=shared_limiter()) as bare:
            bare.account()
        return None

    since = time.time()
    errors = fan_out(account, list(range(reference_requests)), processes=args.processes, threads=args.workers)
    accepted, limited, seconds = accepted_window(sim.get("/_sandbox/requests").json(), since - 1)
    reference = Row(f"bare client GET /v1/account, {fan}", "requests", reference_requests, accepted, limited,
                    seconds)
    time.sleep(1.5)  # leave the reference's second behind before the flow starts

    def process(pk: int) -> str | None:
        document = Document.objects.select_related("tenant").get(pk=pk)
        for attempt in range(10):  # a retry's schedule, without waiting for it
            document = document_process(document, trigger=Trigger.SCHEDULED if attempt == 0 else Trigger.RETRY)
            if document.state != DocumentState.RETRYING:
                break
        return None if document.state == DocumentState.SENT else \
            f"{document.external_key}: {document.state} {document.last_error}"

    since = time.time()
    started = time.monotonic()
    errors = fan_out(process, documents, processes=args.processes, threads=args.workers)
    wall = time.monotonic() - started
    records = sim.get("/_sandbox/requests").json()
    accepted, limited, seconds = accepted_window(records, since - 0.5)
    stripe_invoices = [i for i in sim.get("/_sandbox/objects/invoices").json()
                       if i["metadata"].get("ml_tenant") == tenant.slug]
    customers = [c for c in sim.get("/_sandbox/objects/customers").json()
                 if (c.get("metadata") or {}).get("ml_tenant") == tenant.slug]
    per_invoice = Counter((i["metadata"]["vp_invoice"], i["metadata"]["vp_period"], i["metadata"]["vp_post_seq"])
                          for i in stripe_invoices)
    per_firm = Counter(c["metadata"]["vp_client_id"] for c in customers)
    duplicates = sum(n - 1 for n in per_invoice.values() if n > 1) + sum(n - 1 for n in per_firm.values() if n > 1)
    finalized = sum(1 for i in stripe_invoices if i["status"] == "open")
    flow = Row(f"ar-stripe, {fan}", "invoices", invoices, accepted, limited, seconds, duplicates)

    load = os.getloadavg()
    print(f"\nStripe simulator over HTTP, {LIMIT:.0f} requests/s per account (Stripe's test mode); "
          f"{invoices:,} invoices of {LINES} lines, {len(per_firm)} customers; load average {load[0]:.1f} "
          f"on {os.cpu_count()} CPUs\n")
    print(f"{'run':<50} {'work':>16} {'accepted':>9} {'429s':>6} {'seconds':>8} {'req/s':>7} {'÷ limit':>8} "
          f"{'duplicates':>10}")
    for row in (reference, flow):
        print(f"{row.what:<50} {row.count:>8,} {row.units:<7} {row.accepted:>9,} {row.rejected_429:>6,} "
              f"{row.seconds:>8.1f} {row.rate:>7.2f} {row.ratio:>8.3f} "
              f"{'' if row.duplicates is None else row.duplicates:>10}")
    print(f"\nflow: {finalized:,} of {invoices:,} invoices finalized in {wall:.1f} s wall "
          f"({accepted / max(invoices, 1):.1f} requests each); reference ÷ limit {reference.ratio:.3f} is the "
          "pacing's own ceiling")
    for error in errors[:5]:
        print(f"  not sent: {error}")
    missed = []
    if flow.ratio < TARGET:
        missed.append(f"achieved rate ÷ limit {flow.ratio:.3f} < {TARGET}")
    if duplicates:
        missed.append(f"{duplicates} duplicates")
    if finalized != invoices:
        missed.append(f"{invoices - finalized} invoices not finalized")
    if args.quick:
        print("quick run: target not judged" + (f" (would miss: {'; '.join(missed)})" if missed else ""))
        return 0
    print("target met: rate ÷ limit ≥ 0.9, 0 duplicates" if not missed else f"MISSED: {'; '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
