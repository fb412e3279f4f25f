"""The shared token bucket (connector/ratelimit.py): spacing, bursts, refusal, Redis sharing."""
from __future__ import annotations

import threading
import time

import pytest

from connector import ratelimit
from connector.failures import TransientFailure
from connector.ratelimit import LocalRateLimiter, Rate, RateLimitQueueTooLong, RedisRateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_are_spaced_one_interval_apart():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    waits = [limiter.reserve("k", Rate(5), max_wait=60) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


def test_acquire_sleeps_until_the_reserved_slot():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    granted = []
    for _ in range(10):
        limiter.acquire("k", Rate(5))
        granted.append(fake.now)
    gaps = [b - a for a, b in zip(granted, granted[1:], strict=False)]
    assert gaps == pytest.approx([0.2] * 9)


def test_a_burst_lets_that_many_through_at_once_then_paces():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    waits = [limiter.reserve("k", Rate(5, burst=3), max_wait=60) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.2, 0.4])


def test_an_idle_bucket_saves_no_more_than_its_burst():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.reserve("k", Rate(5), max_wait=60)
    fake.now += 3600
    waits = [limiter.reserve("k", Rate(5), max_wait=60) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.2, 0.4])


def test_buckets_are_per_key():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    assert limiter.reserve("cleo:1:/a", Rate(5), max_wait=60) == 0
    assert limiter.reserve("cleo:1:/b", Rate(5), max_wait=60) == 0
    assert limiter.reserve("cleo:2:/a", Rate(5), max_wait=60) == 0


def test_a_queue_longer_than_max_wait_is_refused_without_taking_a_slot():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep, max_wait=0.5)
    for _ in range(3):
        limiter.reserve("k", Rate(5), max_wait=60)  # three callers queued: the next slot is 0.6 s away
    with pytest.raises(RateLimitQueueTooLong) as caught:
        limiter.acquire("k", Rate(5))
    assert caught.value.kind == "transient"
    assert limiter.reserve("k", Rate(5), max_wait=60) == pytest.approx(0.6)


def test_redis_bucket_is_shared_by_two_limiter_instances(redis_prefix):
    url, prefix = redis_prefix
    fake = FakeTime()
    worker_a = RedisRateLimiter.from_url(url, clock=fake.clock, sleep=fake.sleep, prefix=prefix)
    worker_b = RedisRateLimiter.from_url(url, clock=fake.clock, sleep=fake.sleep, prefix=prefix)
    waits = [(worker_a if n % 2 == 0 else worker_b).reserve("cleo:1:/api/folders", Rate(5), max_wait=60)
             for n in range(6)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert worker_b.reserve("cleo:1:/api/folders", Rate(5), max_wait=0.5) is None  # refused, nothing taken
    assert worker_a.reserve("cleo:1:/api/folders", Rate(5), max_wait=60) == pytest.approx(1.2)


def test_a_hold_gives_no_slot_before_it_ends_then_paces_as_before():
    fake = FakeTime()
    limiter = LocalRateLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.reserve("k", Rate(5), max_wait=60)
    limiter.hold("k", 2.0)  # the server said 429, Retry-After 2
    limiter.hold("k", 0.5)  # a shorter hold never shortens one in force
    waits = [limiter.reserve("k", Rate(5), max_wait=60) for _ in range(3)]
    assert waits == pytest.approx([2.0, 2.2, 2.4])
    assert limiter.reserve("other", Rate(5), max_wait=60) == 0, "other paths are not held"


def test_a_hold_in_redis_holds_every_worker(redis_prefix):
    url, prefix = redis_prefix
    fake = FakeTime()
    told, other = (RedisRateLimiter.from_url(url, clock=fake.clock, sleep=fake.sleep, prefix=prefix) for _ in range(2))
    told.hold("cleo:1:/api/folders/{id}/files", 3.0)
    assert other.reserve("cleo:1:/api/folders/{id}/files", Rate(5), max_wait=60) == pytest.approx(3.0)
    told.hold("cleo:1:/api/folders/{id}/files", 1.0)
    assert told.reserve("cleo:1:/api/folders/{id}/files", Rate(5), max_wait=60) == pytest.approx(3.2)


def test_redis_bucket_paces_threads_of_two_workers_on_redis_time(redis_prefix):
    """Real time, Redis's clock: 2 workers x 2 threads x 10 acquires at 100/s."""
    url, prefix = redis_prefix
    workers = [RedisRateLimiter.from_url(url, prefix=prefix) for _ in range(2)]
    granted: list[float] = []
    lock = threading.Lock()

    def run(limiter: RedisRateLimiter) -> None:
        for _ in range(10):
            limiter.acquire("cleo:1:/api/folders/x/files", Rate(100))
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 40
    assert max(granted) - started >= 0.39 - 0.02  # 40 slots, 10 ms apart, the first at once


def test_redis_unavailable_is_transient_and_does_not_leak_the_url():
    limiter = RedisRateLimiter.from_url("redis://:SECRETpw@127.0.0.1:1/0")
    with pytest.raises(TransientFailure) as caught:
        limiter.acquire("k", Rate(5))
    assert "SECRETpw" not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_shared_limiter_uses_redis_only_when_redis_url_is_set(settings, monkeypatch):
    monkeypatch.setattr(ratelimit, "_shared", None)
    settings.REDIS_URL = ""
    assert isinstance(ratelimit.shared_limiter(), LocalRateLimiter)
    assert ratelimit.shared_limiter() is ratelimit.shared_limiter()
    monkeypatch.setattr(ratelimit, "_shared", None)
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert isinstance(ratelimit.shared_limiter(), RedisRateLimiter)
