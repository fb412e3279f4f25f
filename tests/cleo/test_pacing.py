"""The client against Cleo's per-path limit: paced below it, and 429s honoured when they come."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest

from connector.failures import TransientFailure
from connector.http import HttpPolicy
from connector.ratelimit import LocalRateLimiter, Rate, RateLimiter, RedisRateLimiter
from edi.cleo import CleoClient
from sandbox.cleo import INBOUND_FOLDER, CleoSimulator

from .conftest import make_client


class NoPacing(RateLimiter):
    """A limiter that never waits, to meet Cleo's 429s head on."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def reserve(self, key: str, rate: Rate, *, max_wait: float) -> float | None:
        self.keys.append(key)
        return 0.0

    def reset(self, key: str) -> None:
        pass

    def hold(self, key: str, seconds: float) -> None:
        pass


def files_path(folder) -> str:
    return urlsplit(folder.link("files")).path


@pytest.mark.parametrize("algorithm", ["sliding_window", "token_bucket"])
def test_a_paced_burst_meets_no_429_at_the_default_limit(connection, sim, sim_time, algorithm):
    sim.set_rate_limit(5, algorithm)
    with make_client(connection, sim, sim_time) as cleo:
        folder = cleo.folder_named(INBOUND_FOLDER)
        started = sim.clock.now()
        for _ in range(40):
            cleo.list_files(folder)
        elapsed = sim.clock.now() - started
    assert sim.rejected() == 0
    assert 39 / elapsed == pytest.approx(5 * 0.95, rel=0.01)  # 40 calls, 39 intervals at 95% of the limit


def test_without_pacing_429s_come_and_retry_after_is_honoured(connection, sim, sim_time):
    cleo = CleoClient(connection, transport=sim.transport(), sleep=sim_time.sleep, limiter=NoPacing())
    folder = cleo.folder_named(INBOUND_FOLDER)
    for _ in range(12):
        cleo.list_files(folder)  # no failure reaches the caller
    assert sim.rejected(path_contains=files_path(folder)) >= 2
    assert set(sim_time.sleeps) == {1.0}  # the simulator's Retry-After, not a guess


def test_a_429_holds_the_path_for_every_client_of_the_connection(connection, sim, sim_time):
    """Fan-out: many workers share the connection's bucket; when Cleo refuses one of them, the
    others must not spend their own requests (and 429s) finding out."""
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    refused = CleoClient(connection, transport=sim.transport(), sleep=sim_time.sleep, limiter=limiter,
                         policy=HttpPolicy(max_attempts=1))  # its 429 reaches this test instead of a retry
    other = CleoClient(connection, transport=sim.transport(), sleep=sim_time.sleep, limiter=limiter)
    folder = refused.folder_named(INBOUND_FOLDER)
    sim.set_rate_limit(1)  # Cleo stricter today than the 5 a second the clients pace for
    refused.list_files(folder)
    with pytest.raises(TransientFailure, match="429"):
        refused.list_files(folder)
    refused_at = sim.calls_to(path_contains=files_path(folder))[-1].at

    other.list_files(folder)

    last = sim.calls_to(path_contains=files_path(folder))[-1]
    assert last.status == 200 and last.at - refused_at >= 1.0, "it waited out the Retry-After the other was told"
    assert sim.rejected(path_contains=files_path(folder)) == 1


def test_retry_after_is_capped(connection, sim, sim_time):
    with make_client(connection, sim, sim_time) as cleo:
        cleo.http.policy = HttpPolicy(retry_after_cap=3.0)
        folder = cleo.folder_named(INBOUND_FOLDER)
        sim.fail_next("503", method="GET", path_contains="/files", retry_after=3600)
        cleo.list_files(folder)
    assert 3.0 in sim_time.sleeps and 3600 not in sim_time.sleeps


def test_without_retry_after_the_backoff_is_exponential_with_full_jitter(connection, sim, sim_time):
    retry_sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        retry_sleeps.append(seconds)
        sim_time.sleep(seconds)

    cleo = CleoClient(connection, transport=sim.transport(), sleep=sleep, limiter=NoPacing())
    folder = cleo.folder_named(INBOUND_FOLDER)
    sim.fail_next("503", method="GET", path_contains="/files", times=3)
    cleo.list_files(folder)
    assert len(retry_sleeps) == 3
    assert all(0 <= slept <= ceiling for slept, ceiling in zip(retry_sleeps, [0.5, 1.0, 2.0], strict=True))


def test_ids_in_paths_share_one_bucket(client, sim):
    limiter = NoPacing()
    client.limiter = limiter
    for n in range(2):
        sim.put_file(INBOUND_FOLDER, f"f{n}.edi", b"x")
    for file in client.list_files(client.folder_named(INBOUND_FOLDER)):
        client.download_file(file)
    content_keys = {key for key in limiter.keys if key.endswith("/content")}
    assert content_keys == {f"cleo:{client.connection.pk}:/api/files/{{id}}/content"}


def _four_threads_of_calls(clients: list[CleoClient], sim: CleoSimulator, calls_each: int) -> str:
    folder = clients[0].folder_named(INBOUND_FOLDER)
    for cleo in clients[1:]:
        cleo.folder_named(INBOUND_FOLDER)  # each worker logs in before the clock starts
    sim.clear_calls()
    failures: list[BaseException] = []

    def run(cleo: CleoClient) -> None:
        try:
            for _ in range(calls_each):
                cleo.list_files(folder)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(clients[n % len(clients)],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return files_path(folder)


def _assert_under_the_limit(sim: CleoSimulator, path: str, limit: int, expected: int) -> None:
    calls = sim.calls_to(path_contains=path)
    served = sorted(c.at for c in calls if c.status == 200)
    assert len(served) == expected
    busiest = max(sum(1 for t in served[i:] if t - start < 1.0) for i, start in enumerate(served))
    assert busiest <= limit
    # Honest about what is asserted: pacing at 95% leaves ~50 ms of jitter room per second,
    # so on this in-process transport Cleo never has to refuse one. Were a 429 to come, the
    # policy would retry it (no failure reaches the caller, checked above); seeing none shows
    # the pacing works rather than the retries.
    assert sim.rejected(path_contains=path) == 0, [c for c in calls if c.status == 429]
    elapsed = served[-1] - served[0]
    assert (expected - 1) / elapsed <= limit


@pytest.mark.django_db
def test_200_calls_from_4_threads_on_one_path_stay_under_the_limit(connection):
    limit = 100  # high so the test takes ~2 s of real time; the simulator enforces the same
    connection.requests_per_second = limit
    sim = CleoSimulator(rate_limit=limit)  # real clock, strict sliding window
    with CleoClient(connection, transport=sim.transport(), limiter=LocalRateLimiter()) as cleo:
        path = _four_threads_of_calls([cleo], sim, calls_each=50)
    _assert_under_the_limit(sim, path, limit, expected=200)


@pytest.mark.django_db
def test_two_workers_share_the_redis_bucket(connection, redis_prefix):
    url, prefix = redis_prefix
    limit = 100
    connection.requests_per_second = limit
    connection.save()
    sim = CleoSimulator(rate_limit=limit)  # real clock, strict sliding window
    # Two workers: their own connection instance, client and limiter; only Redis is shared.
    workers = [CleoClient(type(connection).objects.get(pk=connection.pk), transport=sim.transport(),
                          limiter=RedisRateLimiter.from_url(url, prefix=prefix)) for _ in range(2)]
    started = time.monotonic()
    path = _four_threads_of_calls(workers, sim, calls_each=30)
    assert time.monotonic() - started >= 119 / (limit * 0.95) - 0.05
    _assert_under_the_limit(sim, path, limit, expected=120)
