"""Fixtures for Stripe: a simulator whose clock moves only when told, and a bare HTTP client
for poking it the way any Stripe client would."""
from __future__ import annotations

import httpx
import pytest

from sandbox.stripe import LATEST, SANDBOX_SECRET_KEY, StripeSimulator
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
