"""Bench of the Stripe webhook URL: signed events through gunicorn (2 workers) on PostgreSQL.

    python benches/webhooks_bench.py            # 5,000 events each way (a minute or two)
    python benches/webhooks_bench.py --quick    # 500, a smoke test of the script, targets not judged

A database of its own (WEBHOOK_BENCH_DATABASE_URL, or DATABASE_URL's server and name plus
`_bench`) is created, migrated and seeded with one endpoint and its secret, then dropped.
gunicorn serves benches/webhook_site.py on 127.0.0.1 (--port, default 8510) with the
production settings (DEBUG off): 2 workers of 4 threads each (gthread; `--worker-class
sync` for the other kind), so a thread waiting for PostgreSQL's commit to reach the disk
leaves the CPU to another. The same loopback client sends the same 5,000 signed
invoice.paid events (about 2.6 KB each, pretty-printed like Stripe's) first to a bare Django
view that only answers 200 (the floor), then to the webhook URL, each on a new connection,
`--concurrency` (8) at a time. Figures: accepted per second, latency percentiles, the CPU
gunicorn and PostgreSQL spent per request. The request writes the delivery and the event
only (billing/webhooks/receive.py): afterwards the bench runs the outbox drain once, as a
worker would, timed apart (not part of the rate), then counts every event, delivery,
document and queued `connector.process_document` message in the database and the broker
(lost = sent - stored; the drain nudges the web processes sent are counted apart).

The client is a Python epoll loop over non-blocking sockets, every request built and signed
beforehand: no dependency beyond the standard library, exact per-request latency and status,
and its own CPU time measured (printed as the rate one core of it could drive), so it is
shown not to be the bottleneck. wrk would cost less CPU still but needs a system package and
a Lua script to pre-sign 5,000 distinct bodies, and counts requests by time, not by number.

Targets (issue 12): at least 500 events accepted per second, p99 under 50 ms, 0 lost.
The exit status is 1 when one is missed (not with --quick). This machine is shared: the
floor and the load average printed with the figures say how busy it was.
"""
from __future__ import annotations

import argparse
import os
import secrets as token
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from databases import bench_database_url as database_url  # noqa: E402 - benches/ is the script's folder
from databases import database_drop, database_name, database_recreate, server_connect  # noqa: E402

TARGET_RATE = 500.0
TARGET_P99_MS = 50.0
WORKERS = 2
HOST = "127.0.0.1"
# Seconds to let the web processes' nudger threads send their last nudge before gunicorn stops.
NUDGER_SETTLE = 1.0
BENCH_SECRET = "whsec_" + token.token_hex(16)


def bench_database_url() -> str:
    return database_url(override="WEBHOOK_BENCH_DATABASE_URL", suffix="_bench")


@dataclass
class Run:
    name: str
    sent: int
    statuses: list[int]
    latencies: list[float]
    wall: float
    client_cpu: float
    web_cpu: float = 0.0
    database_cpu: float = 0.0

    @property
    def ok(self) -> int:
        return sum(1 for s in self.statuses if s == 200)

    @property
    def rate(self) -> float:
        return self.ok / self.wall

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def client_us_per_request(self) -> float:
        return self.client_cpu / self.sent * 1e6

    def server_ms_per_request(self) -> tuple[float, float]:
        return self.web_cpu / self.sent * 1000, self.database_cpu / self.sent * 1000


def requests_build(path: str, *, port: int, prefix: str, count: int) -> list[bytes]:
    """Signed requests ready to write: events `{prefix}{n}` signed now with the bench secret."""
    from tests.billing.events import event_body, invoice_paid_event, signature_header

    now = int(time.time())
    built = []
    for n in range(count):
        body = event_body(invoice_paid_event(f"{prefix}{n:05d}", invoice_id=f"in_bench{n:05d}", created=now))
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Stripe-Signature: {signature_header(body, BENCH_SECRET, timestamp=now)}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        built.append(head.encode() + body)
    return built


def _drive(port: int, requests: list[bytes], concurrency: int) -> tuple[list[int], list[float]]:
    """Keep `concurrency` requests in flight, each on a new non-blocking socket, one epoll loop:
    connect, write the prepared bytes, read to the server's close, take the status line."""
    selector = selectors.DefaultSelector()
    statuses = [0] * len(requests)
    latencies = [0.0] * len(requests)
    pending = iter(range(len(requests)))
    in_flight = 0

    def open_next() -> bool:
        n = next(pending, None)
        if n is None:
            return False
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = [n, time.perf_counter(), memoryview(requests[n]), b""]
        sock.connect_ex((HOST, port))
        selector.register(sock, selectors.EVENT_WRITE, state)
        return True

    def finish(sock: socket.socket, state: list, status: int) -> None:
        statuses[state[0]] = status
        latencies[state[0]] = time.perf_counter() - state[1]
        selector.unregister(sock)
        sock.close()

    while in_flight < concurrency and open_next():
        in_flight += 1
    while in_flight:
        for key, _ in selector.select():
            sock, state = key.fileobj, key.data
            try:
                if state[2] is not None:  # still writing the request
                    sent = sock.send(state[2])
                    state[2] = state[2][sent:] or None
                    if state[2] is None:
                        selector.modify(sock, selectors.EVENT_READ, state)
                    continue
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                finish(sock, state, -1)
            else:
                if chunk:
                    if len(state[3]) < 12:
                        state[3] += chunk
                    continue
                finish(sock, state, int(state[3][9:12]) if state[3][:5] == b"HTTP/" else -1)
            in_flight -= 1
            if open_next():
                in_flight += 1
    selector.close()
    return statuses, latencies


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (the ones that have not exited)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def web_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's master and its workers."""
    pids = [server.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def database_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (the workers' kept connections)."""
    with server_connect(database_url) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                            [database_name(database_url)]).fetchall()
    return [row[0] for row in rows]


def load(name: str, *, port: int, requests: list[bytes], concurrency: int, server: subprocess.Popen | None = None,
         database_url: str = "") -> Run:
    """Send `requests`; with `server`, also the CPU gunicorn and the bench database's backends used."""
    web = web_pids(server) if server else []
    database = set(database_pids(database_url)) if database_url else set()
    web_before, database_before = cpu_seconds(web), cpu_seconds(list(database))
    cpu, wall = time.process_time(), time.perf_counter()
    statuses, latencies = _drive(port, requests, concurrency)
    run = Run(name=name, sent=len(requests), statuses=statuses, latencies=latencies,
              wall=time.perf_counter() - wall, client_cpu=time.process_time() - cpu)
    run.web_cpu = cpu_seconds(web) - web_before
    if database_url:
        after = set(database_pids(database_url))
        # Backends opened during the run count whole; the bench keeps connections, so none close.
        run.database_cpu = cpu_seconds(list(after & database)) - database_before + cpu_seconds(list(after - database))
    return run


def wait_until_serving(port: int, server: subprocess.Popen, *, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/bench/floor/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {HOST}:{port} within {timeout:.0f}s")


def broker_count_and_clear(broker_url: str, queue: str, broker_dir: Path) -> dict[str, int]:
    """Messages waiting in the bench's queue, by task name (then removed: no worker should ever
    take them)."""
    import json

    if broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker_url)
        messages = client.lrange(queue, 0, -1)
        client.delete(queue)
    else:
        files = [p for p in (broker_dir / "queue").glob("*") if p.is_file()]
        messages = [path.read_bytes() for path in files]
        for path in files:
            path.unlink()
    counts: dict[str, int] = {}
    for message in messages:
        task = json.loads(message).get("headers", {}).get("task", "?")
        counts[task] = counts.get(task, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 events: a smoke test, targets not judged")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEBHOOK_BENCH_PORT", "8510")))
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    args = parser.parse_args()
    count = 500 if args.quick else args.events

    from cryptography.fernet import Fernet

    database_url = bench_database_url()
    run_id = token.token_hex(3)
    queue = f"webhook-bench-{run_id}"
    var_dir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis"):
        broker_url = "filesystem://"
    # The workers keep their database connections for the whole run (production keeps them 60 s).
    served_url = database_url + ("&" if "?" in database_url else "?") + "conn_max_age=600"
    env = {
        **os.environ, "DATABASE_URL": served_url, "DEBUG": "0", "SECRET_KEY": token.token_urlsafe(48),
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(), "ALLOWED_HOSTS": f"{HOST},localhost",
        "CELERY_BROKER_URL": broker_url, "WEBHOOK_BENCH_QUEUE": queue, "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "connector.settings",
        # Plain HTTP on loopback, as behind a proxy that terminates TLS: no redirect to https.
        "SECURE_SSL_REDIRECT": "0",
    }
    os.environ.update(env)
    try:
        database_recreate(database_url)
    except Exception as exc:  # noqa: BLE001 - say what is missing and stop
        print(f"webhooks bench needs PostgreSQL: {database_url} could not be created ({exc}); "
              "set WEBHOOK_BENCH_DATABASE_URL or DATABASE_URL")
        return 1

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from billing.models import DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
    from billing.webhooks.handoff import webhook_events_drain
    from connector.celery import app as celery_app
    from connector.models import Document
    from tenants.models import Tenant

    celery_app.conf.task_default_queue = queue  # what the drain sends goes to the bench's queue too
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, description="bench")
    WebhookSecret.objects.create(endpoint=endpoint, secret=BENCH_SECRET)
    webhook_path = f"/stripe/webhooks/{endpoint.uuid}/"
    connection.close()

    server_log = (var_dir / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "benches.webhook_site:application", "--workers", str(WORKERS),
         "--worker-class", args.worker_class, "--threads", str(args.threads), "--bind", f"{HOST}:{args.port}",
         "--backlog", "2048", "--log-level", "warning", "--chdir", str(ROOT)],
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(args.port, server)
        # Warm both up (imports, database connections) with events that are not counted.
        load("warm-up", port=args.port, requests=requests_build(webhook_path, port=args.port, prefix=f"evt_warm{run_id}",
                                                             count=200), concurrency=args.concurrency)
        load("warm-up", port=args.port, requests=requests_build("/bench/floor/", port=args.port, prefix="evt_floor",
                                                             count=200), concurrency=args.concurrency)
        time.sleep(NUDGER_SETTLE)
        webhook_events_drain()  # the warm-up's events, so that the drain below counts only the run's
        broker_count_and_clear(broker_url, queue, var_dir / "broker")
        floor = load("bare Django view (floor)", port=args.port, concurrency=args.concurrency, server=server,
                     database_url=database_url,
                     requests=requests_build("/bench/floor/", port=args.port, prefix="evt_floor", count=count))
        prefix = f"evt_bench{run_id}_"
        webhook = load("webhook view", port=args.port, concurrency=args.concurrency, server=server,
                       database_url=database_url,
                       requests=requests_build(webhook_path, port=args.port, prefix=prefix, count=count))
        time.sleep(NUDGER_SETTLE)  # the nudgers' last messages (sent from their threads)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    errors = (var_dir / "gunicorn.log").read_text()

    # What a worker does after the requests: the drain makes the documents and queues their
    # processing (the bench's queue; no worker takes them). Timed, not part of the rate.
    nudges = broker_count_and_clear(broker_url, queue, var_dir / "broker").get("billing.drain_webhook_events", 0)
    drain_cpu, drain_wall = time.process_time(), time.perf_counter()
    drained = webhook_events_drain()
    drain_wall, drain_cpu = time.perf_counter() - drain_wall, time.process_time() - drain_cpu

    events = WebhookEvent.objects.filter(stripe_id__startswith=prefix)
    stored = events.count()
    queued = events.filter(queued_at__isnull=False).count()
    deliveries = WebhookDelivery.objects.filter(event__stripe_id__startswith=prefix,
                                                outcome=DeliveryOutcome.ACCEPTED).count()
    documents = Document.objects.filter(external_key__startswith=prefix).count()
    in_broker = broker_count_and_clear(broker_url, queue, var_dir / "broker").get("connector.process_document", 0)
    connection.close()
    database_drop(database_url)
    shutil.rmtree(var_dir, ignore_errors=True)

    lost = count - stored
    width = 28
    size_kb = len(requests_build(webhook_path, port=0, prefix="x", count=1)[0]) / 1000
    print(f"Stripe webhook: {count} signed events (about {size_kb:.1f} KB each) "
          f"from a loopback epoll client, {args.concurrency} in flight, a new connection each; gunicorn "
          f"{WORKERS} workers ({args.worker_class}{f', {args.threads} threads' if args.threads > 1 else ''}), "
          f"PostgreSQL, broker {broker_url.split('://')[0]}.")
    print(f"{'':<{width}}{'200s':>7}{'other':>7}{'per s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'CPU ms/req: web':>17}{'db':>6}{'client':>8}")
    for run in (floor, webhook):
        web_ms, database_ms = run.server_ms_per_request()
        print(f"{run.name:<{width}}{run.ok:>7}{run.sent - run.ok:>7}{run.rate:>9.0f}{run.percentile_ms(50):>9.1f}"
              f"{run.percentile_ms(90):>9.1f}{run.percentile_ms(99):>9.1f}{max(run.latencies) * 1000:>9.1f}"
              f"{web_ms:>17.2f}{database_ms:>6.2f}{run.client_us_per_request / 1000:>8.2f}")
    print(f"webhook relative to the floor: {webhook.rate / floor.rate:.2f}x the rate, "
          f"+{statistics.median(webhook.latencies) * 1000 - statistics.median(floor.latencies) * 1000:.1f} ms at the median")
    print(f"during the run: {nudges} drain nudges sent by the web processes for {webhook.ok} events")
    print(f"afterwards, one drain as a worker runs it: {drained['documents']} documents made and "
          f"{drained['queued']} processings queued in {drain_wall:.1f} s ({drained['documents'] / drain_wall:,.0f} "
          f"events/s, {drain_cpu / max(1, drained['documents']) * 1000:.2f} ms of its CPU per event)")
    print(f"then: {stored} events stored, {deliveries} accepted deliveries, {documents} documents, "
          f"{queued} marked queued, {in_broker} process_document messages in the broker queue; lost {lost}")
    busiest = max(floor.client_cpu / floor.wall, webhook.client_cpu / webhook.wall)
    print(f"client: at most {busiest:.0%} of one core busy; its CPU per request would drive "
          f"{1e6 / webhook.client_us_per_request:,.0f} requests/s on one core")
    web_ms, database_ms = webhook.server_ms_per_request()
    floor_ms = sum(floor.server_ms_per_request())
    print(f"server CPU per event {web_ms + database_ms:.2f} ms (gunicorn {web_ms:.2f}, PostgreSQL {database_ms:.2f}), "
          f"{(web_ms + database_ms) / floor_ms:.1f} times the floor's {floor_ms:.2f} ms: at this run's cost, "
          f"{os.cpu_count()} cores doing nothing else would take about {os.cpu_count() * 1000 / (web_ms + database_ms):,.0f}"
          " events/s")
    status_errors = sorted({s for s in webhook.statuses if s != 200})
    if status_errors:
        print(f"webhook answers other than 200: {status_errors}")
        if errors.strip():
            print("gunicorn said:\n" + errors.strip()[-2000:])
    targets = [
        (f"accepted per second >= {TARGET_RATE:.0f}", webhook.rate >= TARGET_RATE),
        (f"p99 < {TARGET_P99_MS:.0f} ms", webhook.percentile_ms(99) < TARGET_P99_MS),
        ("0 lost, every event stored, queued and in the broker",
         lost == 0 and webhook.ok == count and queued == count and in_broker == count and documents == count),
    ]
    for label, met in targets:
        print(f"  {label}: {'ok' if met else 'MISSED'}{' (quick: not judged)' if args.quick else ''}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if args.quick or all(met for _, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
