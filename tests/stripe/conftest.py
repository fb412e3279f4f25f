"""Fixtures for Stripe: a simulator whose clock moves only when a client sleeps, our client on it,
and a bare HTTP client for poking the simulator the way any Stripe client would.

The client's limiter and retry sleeps advance the simulator's clock instead of waiting, so
Stripe's 25-per-second test-mode limit and every backoff cost no real time.
"""
from __future__ import annotations

import httpx
import pytest

from billing.stripe import StripeBillingClient
from connector.ratelimit import LocalRateLimiter
from sandbox.stripe import LATEST, SANDBOX_SECRET_KEY, StripeSimulator
from tenants.models import StripeConnection, Tenant
from tests.sim_time import SimulatedTime

BASE_URL = "https://api.stripe.test"


@pytest.fixture
def sim() -> StripeSimulator:
    return StripeSimulator(frozen_clock=True, random_seed=7)


@pytest.fixture
def sim_time(sim: StripeSimulator) -> SimulatedTime:
    return SimulatedTime(sim)


@pytest.fixture
def api(sim: StripeSimulator):
    """Any client of Stripe's API: the sandbox key over Basic auth, the newest version pinned."""
    with httpx.Client(base_url=BASE_URL, transport=sim.transport(), auth=(SANDBOX_SECRET_KEY, ""),
                      headers={"Stripe-Version": LATEST}) as client:
        yield client


@pytest.fixture
def connection(db) -> StripeConnection:
    tenant = Tenant.objects.create(name="Acme Engineering", slug="acme")
    return StripeConnection.objects.create(tenant=tenant, enabled=True, secret_key=SANDBOX_SECRET_KEY, api_base=BASE_URL)


def make_client(connection: StripeConnection, sim: StripeSimulator, sim_time: SimulatedTime,
                **options) -> StripeBillingClient:
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    return StripeBillingClient(connection, transport=sim.transport(), sleep=sim_time.sleep, limiter=limiter, **options)


@pytest.fixture
def stripe_api(connection: StripeConnection, sim: StripeSimulator, sim_time: SimulatedTime):
    """Our client on the simulator (named so as not to hide pytest-django's `client`)."""
    with make_client(connection, sim, sim_time) as ours:
        yield ours
