"""Fixtures: a fresh simulator per test, a tenant's connection to it, and clients that never sleep.

Every client talks to the simulator in process through httpx.WSGITransport; the sleeps the
HTTP policy would make are recorded in `sleeps` instead, so tests can assert on backoff and
Retry-After without waiting.
"""
from __future__ import annotations

import httpx
import pytest

from sandbox.vantagepoint import (
    AR_ACCOUNT,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DATABASE,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    create_app,
)
from tenants.models import Tenant, VantagepointConnection

BASE_URL = "http://vp.test/Sandbox/api"


@pytest.fixture
def sim_sleeps() -> list[float]:
    return []


@pytest.fixture
def sim(sim_sleeps):
    return create_app(seed_size=12, sleep=sim_sleeps.append)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def transport(sim) -> httpx.WSGITransport:
    return httpx.WSGITransport(app=sim)


def make_connection(**overrides) -> VantagepointConnection:
    n = Tenant.objects.count() + 1
    tenant = Tenant.objects.create(name=f"Firm {n}", slug=f"firm-{n}")
    fields = dict(base_url=BASE_URL, database=SANDBOX_DATABASE, username=SANDBOX_USERNAME,
                  password=SANDBOX_PASSWORD, client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET,
                  bank_code="OPER", ar_account=AR_ACCOUNT, liability_code="AP", client_company="")
    fields.update(overrides)
    return VantagepointConnection.objects.create(tenant=tenant, enabled=True, **fields)


@pytest.fixture
def connection(db) -> VantagepointConnection:
    return make_connection()


@pytest.fixture
def client(connection, transport, sleeps):
    from connector.vantagepoint import VantagepointClient

    with VantagepointClient(connection, transport=transport, sleep=sleeps.append) as client:
        yield client
