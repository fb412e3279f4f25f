"""Locks on both backends: one holder at a time, a heartbeat that keeps a working holder's
lock past its lifetime, a holder told when it lost its lock, and a concurrent run that skips."""
import dataclasses
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connector import flows
from connector.locks import REDIS_KEY_PREFIX, Lease, LockLost, _heartbeat, database_lock, redis_client, redis_lock
from connector.models import RunLock, SyncRun, SyncRunStatus, Trigger
from connector.sync import sync_run_execute
from tests.factories import make_tenant
from tests.workers import wait_for

BACKENDS = [pytest.param(database_lock, id="database")]
if settings.REDIS_URL:
    BACKENDS.append(pytest.param(redis_lock, id="redis"))

SHORT = timedelta(seconds=0.6)


@pytest.fixture
def take_over():
    """What another holder does once this one's lock expired: make the lock its own (for a
    minute, so this holder cannot get it back). Redis keys outlive the test: removed after."""
    taken = []

    def take(lock, key: str) -> None:
        if lock is database_lock:
            RunLock.objects.filter(key=key).update(holder="another-host:1:cafe",
                                                   expires_at=timezone.now() + timedelta(minutes=1))
        else:
            redis_client().set(f"{REDIS_KEY_PREFIX}{key}", "another-token", px=60_000)
            taken.append(key)

    yield take
    for key in taken:
        redis_client().delete(f"{REDIS_KEY_PREFIX}{key}")


@pytest.mark.django_db
@pytest.mark.parametrize("lock", BACKENDS)
def test_a_held_lock_is_not_granted_twice_and_is_released(lock):
    with lock("sync:test:held") as first:
        with lock("sync:test:held") as second:
            assert first and not second
            assert isinstance(first, Lease) and first.key == "sync:test:held"
    with lock("sync:test:held") as again:
        assert again


@pytest.mark.django_db
def test_an_expired_database_lock_is_taken_over():
    with database_lock("sync:test:stale", ttl=timedelta(seconds=-1)) as first:
        with database_lock("sync:test:stale") as second:
            assert first and second


@pytest.mark.django_db
@pytest.mark.parametrize("lock", BACKENDS)
def test_the_lifetime_comes_from_the_setting(lock, settings):
    settings.LOCK_TTL_SECONDS = 7
    with lock("sync:test:setting") as lease:
        assert lease.ttl == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock", BACKENDS)
def test_the_heartbeat_keeps_a_working_holder_s_lock_past_its_lifetime(lock):
    with lock("sync:test:beat", ttl=SHORT) as lease:
        wait_for(lambda: lease.renewals >= 4, timeout=30, what="four renewals (two lifetimes)")
        with lock("sync:test:beat") as second:
            assert not second
        lease.check()  # not lost
    with lock("sync:test:beat") as again:
        assert again


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock", BACKENDS)
def test_a_holder_whose_lock_was_taken_over_is_told(lock, take_over):
    with lock("sync:test:lost", ttl=SHORT) as lease:
        take_over(lock, "sync:test:lost")
        assert wait_for(lease.lost.is_set, timeout=30, what="the heartbeat to find the lock taken")
        with pytest.raises(LockLost, match="lost the lock sync:test:lost"):
            lease.check()
    # Leaving did not release the other holder's lock.
    with lock("sync:test:lost") as mine:
        assert not mine


def test_a_failing_renewal_is_retried_and_loses_the_lock_only_after_its_lifetime():
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("redis went away for a moment")

    lease, stop = Lease(key="k", acquired=True, ttl=0.3), threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lease, flaky, stop), kwargs={"closes_db": False})
    beat.start()
    wait_for(lambda: lease.renewals >= 2, timeout=30, what="renewals after the failed one")
    stop.set()
    beat.join()
    assert not lease.lost.is_set()

    def down() -> None:
        raise ConnectionError("redis is down")

    lease = Lease(key="k", acquired=True, ttl=0.3)
    _heartbeat(lease, down, threading.Event(), closes_db=False)  # returns once the lock is lost
    assert lease.lost.is_set() and "could not renew it for 0.3 s: ConnectionError: redis is down" in lease.lost_reason


@pytest.fixture(params=BACKENDS)
def lock_backend(request, settings):
    """Run the engine on one backend: REDIS_URL chooses it."""
    if request.param is database_lock:
        settings.REDIS_URL = ""
    return request.param


@pytest.mark.django_db(transaction=True)
def test_a_run_that_lost_its_lock_says_so(echo_flow, lock_backend, take_over, settings, monkeypatch):
    settings.LOCK_TTL_SECONDS = 0.6
    tenant = make_tenant()

    def poll_that_loses_its_lock(*, run, **kwargs):
        take_over(lock_backend, run.lease.key)
        wait_for(run.lease.lost.is_set, timeout=30, what="the heartbeat to find the lock taken")
        return {"seen": 1}

    monkeypatch.setitem(flows._registry, "echo", dataclasses.replace(echo_flow.ECHO_FLOW, poll=poll_that_loses_its_lock))
    run = sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED)
    assert run.status == SyncRunStatus.FAILED and run.counts == {"seen": 1}
    assert run.error.startswith(f"lost the lock sync:{tenant.pk}:echo: ")
    assert "another run of this flow may have overlapped this one" in run.error


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_second_run_skips_and_writes_nothing(echo_flow, lock_backend, monkeypatch):
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

    assert second is None
    assert results["first"].status == SyncRunStatus.SUCCEEDED
    assert len(calls) == 1
    assert list(SyncRun.objects.filter(tenant=tenant)) == [results["first"]]
    # Once the first has finished, the lock is free again.
    assert sync_run_execute(tenant=tenant, flow_name="echo", trigger=Trigger.SCHEDULED).status == SyncRunStatus.SUCCEEDED
