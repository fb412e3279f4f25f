"""A third flow on the engine's public services alone (tests/ledger_flow.py: no import from edi/):
it polls a stream, fans its documents out to a real worker, and records an outside effect. The
worker is SIGKILLed after the effect and before our commit; on the retry the step looks at the
outside system first and the effect happens once."""
from __future__ import annotations

import signal
from dataclasses import asdict

import pytest
from django.conf import settings

from connector.cursors import cursor_read
from connector.flows import register, unregister
from connector.locks import redis_client
from connector.models import Document, DocumentState, EffectState, RunLock, SyncRunStatus, Trigger
from connector.queue import queue_held
from connector.sync import sync_run_execute
from connector.tasks import process_document
from tests.factories import make_tenant
from tests.ledger_flow import KILL_SWITCH, LEDGER_COPY, LEDGER_COPY_FLOW, ledger_records, orders_publish
from tests.workers import private_queue, wait_for, worker_start, worker_stop


def lock_lapse(key: str) -> None:
    """What a dead holder's lock does by itself once its (short, heartbeat-renewed) lifetime
    runs out; here at once, so the test need not wait for it."""
    RunLock.objects.filter(key=key).delete()
    if settings.REDIS_URL:
        redis_client().delete(f"ml-connector:lock:{key}")


@pytest.fixture
def ledger_copy_flow():
    register(LEDGER_COPY_FLOW)
    yield LEDGER_COPY_FLOW
    unregister(LEDGER_COPY)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_effect_leaves_one_record_after_the_retry(ledger_copy_flow, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_FLOW_DIR", str(tmp_path))
    orders_publish([{"seq": 1, "number": "ORD-1", "amount": "10.00"}, {"seq": 2, "number": "ORD-2", "amount": "20.00"}])
    tenant = make_tenant()

    with queue_held() as queued:  # the tasks the cycle fans out, routed below to this test's workers
        run = sync_run_execute(tenant=tenant, flow_name=LEDGER_COPY, trigger=Trigger.SCHEDULED)
    assert run.status == SyncRunStatus.SUCCEEDED, run.error
    assert run.counts == {"seen": 2, "new": 2, "duplicate": 0, "queued": 2}
    assert (run.progress_done, run.progress_total) == (None, 2), "two handed out, none finished yet"
    assert cursor_read(tenant=tenant, stream=LEDGER_COPY_FLOW.cursor_name) == "2"
    first, second = queued
    order_1 = Document.objects.get(pk=first.document_id)
    assert order_1.external_key == "ORD-1"

    queue, env = private_queue(), {"LEDGER_FLOW_DIR": str(tmp_path)}
    (tmp_path / KILL_SWITCH).touch()
    worker = worker_start(queue=queue, log_path=tmp_path / "killed.log", env=env)
    try:
        process_document.apply_async(kwargs=asdict(first), queue=queue)
        wait_for(lambda: worker.poll() is not None, timeout=90, what="the worker to be killed mid-task")
    finally:
        worker_stop(worker)
    assert worker.returncode == -signal.SIGKILL
    order_1.refresh_from_db()
    effect = order_1.effects.get()
    assert (effect.state, effect.calls) == (EffectState.UNKNOWN, 1), "declared and marked before the call"
    assert order_1.state == DocumentState.RECEIVED and not order_1.attempts.exists(), "nothing after it committed"
    assert [r["reference"] for r in ledger_records()] == ["ORD-1"], "the effect did happen"

    lock_lapse(f"document:{order_1.pk}")
    worker = worker_start(queue=queue, log_path=tmp_path / "retry.log", env=env)
    try:
        for work in (first, second):  # the retry of ORD-1 (a redelivery or the next cycle), and ORD-2
            process_document.apply_async(kwargs=asdict(work), queue=queue)
        wait_for(lambda: Document.objects.filter(tenant=tenant, state=DocumentState.SENT).count() == 2,
                 timeout=90, what="both orders recorded")
    finally:
        worker_stop(worker)

    effect.refresh_from_db()
    order_1.refresh_from_db()
    assert (effect.state, effect.confirmed_by, effect.calls) == (EffectState.CONFIRMED, "look", 1), \
        "the retry looked first, found the record, and did not create it again"
    records = ledger_records()
    assert sorted(r["reference"] for r in records) == ["ORD-1", "ORD-2"], "each order recorded once"
    by_reference = {r["reference"]: r for r in records}
    assert by_reference["ORD-1"]["key"] == effect.key and order_1.external_ids["ledger_id"] == by_reference["ORD-1"]["id"]
    run.refresh_from_db()
    assert run.counts["sent"] == 2, "each outcome counted once, on the run that handed the order out"
    assert (run.progress_done, run.progress_total) == (2, 2), "the progress moved with each outcome, in any worker"
