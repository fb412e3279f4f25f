"""Real processes against the test database: a Celery worker or a one-cycle subprocess, and
polling with a deadline while they work."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_test_db() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, on the test database, DEBUG off."""
    return {**os.environ, "DATABASE_URL": database_url_for_test_db(), "DEBUG": "0", **extra}


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def unique_queue() -> str:
    """A queue of its own, so a stray worker elsewhere cannot take the test's task."""
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


def worker_start(*, app: str, queue: str, env: dict[str, str], log_path: Path,
                 pool: str = "solo") -> tuple[subprocess.Popen, object]:
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", f"--pool={pool}", "--concurrency=1", "--loglevel=INFO",
         "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip", f"--hostname={queue}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    return worker, log


def process_stop(process: subprocess.Popen, log=None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    if log is not None:
        log.close()
