"""The per-(tenant, flow) lock: a concurrent second run skips, on both backends."""
import threading

import pytest
from django.conf import settings

from connector.locks import database_lock, redis_lock
from connector.models import SyncRun, SyncRunStatus, Trigger
from connector.sync import sync_run_execute
from tests.factories import make_tenant

BACKENDS = [pytest.param(database_lock, id="database")]
if settings.REDIS_URL:
    BACKENDS.append(pytest.param(redis_lock, id="redis"))


@pytest.mark.django_db
@pytest.mark.parametrize("lock", BACKENDS)
def test_a_held_lock_is_not_granted_twice_and_is_released(lock):
    with lock("sync:test:held") as first:
        with lock("sync:test:held") as second:
            assert first and not second
    with lock("sync:test:held") as again:
        assert again


@pytest.mark.django_db
def test_an_expired_database_lock_is_taken_over():
    from datetime import timedelta

    with database_lock("sync:test:stale", ttl=timedelta(seconds=-1)) as first:
        with database_lock("sync:test:stale") as second:
            assert first and second


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_second_run_skips(echo_flow, monkeypatch):
    """Run one cycle that blocks inside its poll; start a second meanwhile: it must skip."""
    tenant = make_tenant()
    inside, release = threading.Event(), threading.Event()
    original_poll = echo_flow.ECHO_FLOW.poll
    calls = []

    def slow_poll(**kwargs):
        calls.append(1)
        inside.set()
        assert release.wait(timeout=30)
        return original_poll(**kwargs)

    import dataclasses

    from connector import flows

    monkeypatch.setitem(flows._registry, "echo", dataclasses.replace(echo_flow.ECHO_FLOW, poll=slow_poll))
    results = {}

    def first_run():
        from django.db import connection
        try:
            results["first"] = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    assert inside.wait(timeout=30)
    second = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED)
    release.set()
    thread.join(timeout=30)

    assert second.status == SyncRunStatus.SKIPPED
    assert results["first"].status == SyncRunStatus.SUCCEEDED
    assert len(calls) == 1
    assert SyncRun.objects.filter(tenant=tenant, status=SyncRunStatus.SUCCEEDED).count() == 1
    # Once the first has finished, the lock is free again.
    assert sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED).status != SyncRunStatus.SKIPPED
