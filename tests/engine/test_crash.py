"""Runs survive a crash: real processes killed with SIGKILL in the middle of a cycle.

The lock lifetime is short in the killed processes (LOCK_TTL_SECONDS), so what takes up to
30 s in production takes seconds here; every wait polls with a deadline.
"""
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings

from connector.locks import REDIS_KEY_PREFIX, redis_client
from connector.models import FlowSchedule, RunLock, SyncRun, SyncRunStatus
from connector.schedules import schedules_ensure
from connector.sync import sync_lock_key
from connector.tasks import run_flow
from tests.engine.stall_flow import RELEASE_FILE_ENV, STALL, STALLED, stalled_pid
from tests.factories import make_tenant
from tests.workers import ROOT, private_queue, process_env, process_stop, wait_for, worker_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def lock_expires_at(key: str) -> float | None:
    """When the lock expires unless renewed (seconds since the epoch), on the backend in use."""
    if settings.REDIS_URL:
        left = redis_client().pttl(f"{REDIS_KEY_PREFIX}{key}")
        return time.time() + left / 1000 if left > 0 else None
    row = RunLock.objects.filter(key=key).first()
    return row.expires_at.timestamp() if row else None


def stalled_run(tenant):
    return SyncRun.objects.filter(tenant=tenant, flow=STALL, progress__startswith=STALLED).first()


def test_a_killed_cycle_does_not_block_the_next_and_shows_as_abandoned(stall_flow, tmp_path):
    tenant = make_tenant()
    schedules_ensure(tenants=[tenant])
    key = sync_lock_key(tenant_id=tenant.pk, flow_name=STALL)
    env = process_env(LOCK_TTL_SECONDS="6", **{RELEASE_FILE_ENV: str(tmp_path / "never")})
    with (tmp_path / "cycle.log").open("w") as log:
        cycle = subprocess.Popen([sys.executable, "-m", "tests.engine.stall_flow", "--tenant", tenant.slug],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        killed = wait_for(lambda: stalled_run(tenant), timeout=60, what="the cycle to stall")
        assert stalled_pid(killed.progress) == cycle.pid
        # While it works, its heartbeat moves the lock's expiry on.
        first = lock_expires_at(key)
        assert first is not None
        wait_for(lambda: (lock_expires_at(key) or 0) > first + 1, timeout=60, what="the heartbeat to renew the lock")
        cycle.send_signal(signal.SIGKILL)
        cycle.wait(timeout=30)
    finally:
        process_stop(cycle)
    tick = {"tenant_id": tenant.pk, "flow": STALL}

    # Right after the kill, the dead cycle's lock still holds: a tick skips and writes no run.
    assert run_flow.apply(kwargs=tick).get() is None
    assert list(SyncRun.objects.filter(tenant=tenant)) == [killed]
    schedule = FlowSchedule.objects.get(tenant=tenant, flow=STALL)
    assert schedule.skip_count == 1 and schedule.last_skipped_at is not None

    # Within a minute of the kill, a tick runs and finds the killed run abandoned.
    next_run = SyncRun.objects.get(pk=wait_for(lambda: run_flow.apply(kwargs=tick).get(), timeout=60,
                                               what="a cycle to run after the kill"))
    assert next_run.status == SyncRunStatus.SUCCEEDED, next_run.error
    killed.refresh_from_db()
    assert killed.status == SyncRunStatus.ABANDONED and killed.finished_at is not None
    assert f"found by run {next_run.pk}" in killed.error


def test_a_task_redelivered_after_its_worker_died_waits_for_the_lock_and_does_its_work(stall_flow, tmp_path):
    """acks_late and reject_on_worker_lost put the task back when its worker process dies; the
    redelivered task finds its dead self's lock and retries instead of being acknowledged."""
    tenant = make_tenant()
    release = tmp_path / "release"
    queue = private_queue()
    env = process_env(LOCK_TTL_SECONDS="10", **{RELEASE_FILE_ENV: str(release)})
    worker = worker_start(app="tests.engine.stall_worker", queue=queue, env=env, log_path=tmp_path / "worker.log",
                          pool="prefork")
    try:
        sent = run_flow.apply_async(kwargs={"tenant_id": tenant.pk, "flow": STALL}, queue=queue)
        killed = wait_for(lambda: stalled_run(tenant), timeout=60, what="the cycle to stall in the worker")
        child = stalled_pid(killed.progress)
        assert killed.task_id == sent.id and child != worker.pid
        os.kill(child, signal.SIGKILL)
        release.touch()  # the redelivered cycle does not stall
        done = wait_for(lambda: SyncRun.objects.filter(tenant=tenant, status=SyncRunStatus.SUCCEEDED).first(),
                        timeout=120, what="the redelivered task to run the cycle")
    finally:
        process_stop(worker)
    assert done.task_id == sent.id, "the redelivered task itself ran the cycle"
    killed.refresh_from_db()
    assert killed.status == SyncRunStatus.ABANDONED and f"found by run {done.pk}" in killed.error
    worker_log = (tmp_path / "worker.log").read_text()
    assert "WorkerLostError" in worker_log, worker_log
    assert f"connector.run_flow[{sent.id}] retry: Retry in 10" in worker_log, worker_log
