"""A real Celery worker process runs a task end to end on the configured broker (Redis in CI,
the embedded filesystem broker locally) against the test database."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from connector.models import Document, SyncRun, SyncRunStatus
from tests.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_test_db() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_sync_cycle(echo_flow, tmp_path):
    tenant = make_tenant()
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "DEBUG": "0"}
    # A queue of its own so a stray worker elsewhere cannot take the task.
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.worker_app", "worker", "--pool=solo", "--loglevel=INFO",
         "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip", f"--hostname={queue}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        from connector.tasks import run_flow

        run_flow.apply_async(kwargs={"tenant_id": tenant.pk, "flow": "echo"}, queue=queue)
        run = wait_for(lambda: SyncRun.objects.filter(tenant=tenant).exclude(status=SyncRunStatus.RUNNING).first(),
                       timeout=60, what="the worker to finish the sync run")
        assert run.status == SyncRunStatus.SUCCEEDED, run.error
        assert run.counts == {"seen": 2, "new": 2, "sent": 2}
        assert set(Document.objects.filter(tenant=tenant).values_list("external_key", "state")) == {
            ("A-1", "sent"), ("A-2", "sent")}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert "connector.run_flow" in (tmp_path / "worker.log").read_text(), "the worker process ran the task"
