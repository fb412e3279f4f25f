"""`manage.py demo` (what `make demo` runs) on the embedded defaults: no database server, no
broker, no Redis. Within a minute the admin answers, and the worker (fed by the first cycle
on the filesystem broker) has put 810 files into the simulated Cleo folder; then the simulated
partner's 997s mark them acknowledged, one rejected."""
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


@pytest.mark.worker
def test_demo_brings_up_admin_worker_beat_and_sends_810s(tmp_path):
    web, vp, cleo, stripe = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL",
                                                            "SECRET_KEY", "CREDENTIAL_KEYS", "ALLOWED_HOSTS")}
    env.update(DEBUG="1", VAR_DIR=str(tmp_path / "var"), DEMO_VP_PORT=str(vp), DEMO_CLEO_PORT=str(cleo),
               DEMO_STRIPE_PORT=str(stripe))
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(web)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        login = poll(lambda: httpx.get(f"http://127.0.0.1:{web}/admin/login/").status_code == 200,
                     timeout=180, what="the admin login page")
        assert login

        def outbound_810s():
            state = httpx.get(f"http://127.0.0.1:{cleo}/_sandbox/state").json()
            files = [f["name"] for t in state["tenants"] for folder in t["folders"] if folder["name"] == "Outbound"
                     for f in folder["files"]]
            return [name for name in files if "_810-" in name]

        sent = poll(outbound_810s, timeout=90, what="810 files in the simulated Cleo folder")
        assert all(name.startswith("HARBORGROUP_810-") and name.endswith(".edi") for name in sent)

        def answered_810s():
            """The simulated partner's 997s, applied by the inbox: acknowledged and rejected 810s."""
            try:
                with contextlib.closing(sqlite3.connect(tmp_path / "var" / "db.sqlite3", timeout=5)) as db:
                    states = {row[0] for row in db.execute(
                        "SELECT state FROM connector_document WHERE flow = 'ar-810'")}
            except sqlite3.OperationalError:  # busy: the demo is writing
                return False
            return {"acknowledged", "rejected"} <= states

        assert poll(answered_810s, timeout=150, what="an acknowledged and a rejected 810 (the partner's 997s)")
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert f"ml-connector is up: http://127.0.0.1:{web}/admin/" in output
    assert "demo@" in output and "ready" in output, "the Celery worker started"
    assert "beat: Starting" in output, "beat started"
    assert (tmp_path / "var" / "db.sqlite3").exists() and (tmp_path / "var" / "broker").is_dir()
