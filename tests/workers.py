"""Real processes for tests: Celery workers on the configured broker (Redis in CI, the embedded
filesystem broker locally) and one-cycle subprocesses, against the test database, each worker
on a queue of its own so that a stray worker elsewhere cannot take the test's tasks; and
polling with a deadline while they work (never a fixed sleep)."""
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


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, on the test database, DEBUG off."""
    return {**os.environ, "DATABASE_URL": database_url_for_test_db(), "DEBUG": "0", **extra}


def private_queue() -> str:
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


def worker_start(*, queue: str, log_path: Path, env: dict[str, str] | None = None, app: str = "tests.worker_app",
                 pool: str = "solo") -> subprocess.Popen:
    """A worker of `app` on `queue`, logging to `log_path`. With the solo pool the process that
    runs the task is the worker itself: SIGKILL it and the task dies mid-way; with prefork a
    child runs it (kill the child to have the task redelivered)."""
    full_env = process_env(**(env or {})) if env is None or "DATABASE_URL" not in env else env
    log = log_path.open("w")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", f"--pool={pool}", "--concurrency=1",
             "--loglevel=INFO", "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip",
             f"--hostname={queue}@%h"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    finally:
        log.close()  # the child holds its own handle


def process_stop(process: subprocess.Popen) -> None:
    """Terminate, then kill if it will not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


worker_stop = process_stop


def wait_for(predicate, *, timeout: float, what: str):
    """Poll until `predicate()` is truthy (no fixed sleeps: a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
