"""`manage.py demo` (what `make demo` runs) as a process of a test: started on free ports with
the embedded defaults (no database server, broker or Redis from the environment), waited for
until the admin's login page answers, stopped with SIGINT (SIGKILL after 30 s) on the way out.
Polls with deadlines, never a fixed sleep."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# What the demo must not inherit from a CI run: it runs on its own SQLite and file broker.
NOT_INHERITED = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "CREDENTIAL_KEYS", "ALLOWED_HOSTS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(check, *, timeout: float, what: str, every: float = 0.5):
    """`check()`'s first truthy answer within `timeout` seconds; AssertionError naming `what`
    (and the last HTTP error) when none came."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


@dataclass
class RunningDemo:
    var: Path
    log_path: Path
    web: int
    vantagepoint: int
    cleo: int
    stripe: int

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}{path}"

    def output(self) -> str:
        return self.log_path.read_text()

    def documents_by_state(self, flow: str) -> dict[str, int] | None:
        """The demo's documents of `flow` counted by state, read from its SQLite file; None
        while the demo holds the database busy."""
        try:
            with contextlib.closing(sqlite3.connect(self.var / "db.sqlite3", timeout=5)) as db:
                return dict(db.execute("SELECT state, COUNT(*) FROM connector_document WHERE flow = ? "
                                       "GROUP BY state", [flow]).fetchall())
        except sqlite3.OperationalError:
            return None


@contextlib.contextmanager
def demo_running(tmp_path: Path, *, ready_timeout: float = 240) -> Iterator[RunningDemo]:
    """The demo, up (its admin login page answers), in `tmp_path`; stopped afterwards. When it
    does not come up, the AssertionError carries the end of its log."""
    demo = RunningDemo(var=tmp_path / "var", log_path=tmp_path / "demo.log", web=free_port(),
                       vantagepoint=free_port(), cleo=free_port(), stripe=free_port())
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(DEBUG="1", VAR_DIR=str(demo.var), DEMO_VP_PORT=str(demo.vantagepoint),
               DEMO_CLEO_PORT=str(demo.cleo), DEMO_STRIPE_PORT=str(demo.stripe))
    with demo.log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(demo.web)], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            try:
                poll(lambda: httpx.get(demo.url(demo.web, "/admin/login/")).status_code == 200,
                     timeout=ready_timeout, what="the admin login page")
            except AssertionError as exc:
                log.flush()
                raise AssertionError(f"{exc}\n{demo.output()[-3000:]}") from None
            yield demo
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
