"""A tenant wired to both simulators, for the EDI flows' end-to-end tests.

Vantagepoint and Cleo simulators are mounted in process (httpx.WSGITransport) at the
connection URLs; clients built by connector.clients and edi.clients wait on a simulated clock, so Cleo's real
5-per-second limit and every backoff cost no real time.
"""
from __future__ import annotations

import httpx
import pytest

from connector.clients import client_options
from connector.http import mount_transport, unmount_transport
from connector.ratelimit import LocalRateLimiter
from sandbox import cleo as cleo_sandbox
from sandbox import vantagepoint as vp_sandbox
from tenants.models import CleoConnection, Tenant, VantagepointConnection
from tests.sim_time import SimulatedTime

VP_URL = "http://vp.test/Sandbox/api"
CLEO_URL = "http://cleo.test"




@pytest.fixture
def vp_sim():
    return vp_sandbox.create_app(seed_size=12)


@pytest.fixture
def cleo_sim():
    return cleo_sandbox.CleoSimulator(frozen_clock=True, random_seed=7)


@pytest.fixture
def edi_tenant(db, vp_sim, cleo_sim):
    """A tenant with enabled Vantagepoint and Cleo connections pointing at the simulators."""
    tenant = Tenant.objects.create(name="Demo Engineering LLP", slug="acme-eng", legal_name="Demo Engineering LLP",
                                   address_line1="1 Main Street", city="Boston", state="MA", postal_code="02110")
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=VP_URL, database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP")
    CleoConnection.objects.create(tenant=tenant, enabled=True, base_url=CLEO_URL,
                                  username=cleo_sandbox.SERVICE_USERNAME, password=cleo_sandbox.SERVICE_PASSWORD)
    sim_time = SimulatedTime(cleo_sim)
    mount_transport(VP_URL, httpx.WSGITransport(app=vp_sim))
    mount_transport(CLEO_URL, cleo_sim.transport())
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    with client_options(vantagepoint={"sleep": lambda s: None},
                        cleo={"sleep": sim_time.sleep, "limiter": limiter}):
        yield tenant
    unmount_transport(VP_URL)
    unmount_transport(CLEO_URL)
