"""Fixtures for the Cleo client: a simulator whose clock only moves when the client sleeps.

The client's limiter and retry sleeps advance the simulator's clock instead of waiting, so
every test runs against Cleo's real 5-per-second limit in no real time, deterministically.
"""
from __future__ import annotations

import os
import uuid

import pytest

from connector.ratelimit import LocalRateLimiter
from edi.cleo import CleoClient
from sandbox.cleo import SERVICE_PASSWORD, SERVICE_USERNAME, CleoSimulator
from tenants.models import CleoConnection, Tenant
from tests.sim_time import SimulatedTime

BASE_URL = "http://cleo.test"




@pytest.fixture
def sim() -> CleoSimulator:
    return CleoSimulator(frozen_clock=True, random_seed=7)


@pytest.fixture
def sim_time(sim: CleoSimulator) -> SimulatedTime:
    return SimulatedTime(sim)


@pytest.fixture
def connection(db) -> CleoConnection:
    tenant = Tenant.objects.create(name="Acme Engineering", slug="acme")
    return CleoConnection.objects.create(tenant=tenant, enabled=True, base_url=BASE_URL,
                                         username=SERVICE_USERNAME, password=SERVICE_PASSWORD)


def make_client(connection: CleoConnection, sim: CleoSimulator, sim_time: SimulatedTime) -> CleoClient:
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    return CleoClient(connection, transport=sim.transport(), sleep=sim_time.sleep, limiter=limiter)


@pytest.fixture
def client(connection: CleoConnection, sim: CleoSimulator, sim_time: SimulatedTime):
    with make_client(connection, sim, sim_time) as cleo:
        yield cleo


def redis_url() -> str:
    from django.conf import settings

    url = os.environ.get("REDIS_URL") or settings.REDIS_URL
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis-shared bucket needs a Redis (CI sets one)")
    return url


@pytest.fixture
def redis_prefix():
    """A key prefix of our own, so parallel runs never share a bucket; cleaned afterwards."""
    import redis

    url = redis_url()
    prefix = f"test-ratelimit:{uuid.uuid4().hex}:"
    yield url, prefix
    connection = redis.Redis.from_url(url)
    for key in connection.scan_iter(match=prefix + "*"):
        connection.delete(key)
