"""Real Celery worker processes for tests: on the configured broker (Redis in CI, the embedded
filesystem broker locally), against the test database, each on a queue of its own so that a
stray worker elsewhere cannot take the test's tasks."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_test_db() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def private_queue() -> str:
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


def worker_start(*, queue: str, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A solo-pool worker (the process that runs the task is the worker itself: SIGKILL it and
    the task dies mid-way) on `queue`, logging to `log_path`."""
    full_env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "DEBUG": "0", **(env or {})}
    log = log_path.open("w")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.worker_app", "worker", "--pool=solo", "--loglevel=INFO",
             "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip", f"--hostname={queue}@%h"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    finally:
        log.close()  # the child holds its own handle


def worker_stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)


def wait_for(predicate, *, timeout: float, what: str):
    """Poll until `predicate()` is truthy (no fixed sleeps: a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
