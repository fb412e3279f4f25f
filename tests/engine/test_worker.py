"""A real Celery worker process runs a task end to end on the configured broker (Redis in CI,
the embedded filesystem broker locally) against the test database."""
import pytest

from connector.models import Document, SyncRun, SyncRunStatus
from tests.factories import make_tenant
from tests.workers import private_queue, wait_for, worker_start, worker_stop


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_sync_cycle(echo_flow, tmp_path):
    tenant = make_tenant()
    queue = private_queue()
    worker = worker_start(queue=queue, log_path=tmp_path / "worker.log")
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
        worker_stop(worker)
    assert "connector.run_flow" in (tmp_path / "worker.log").read_text(), "the worker process ran the task"
