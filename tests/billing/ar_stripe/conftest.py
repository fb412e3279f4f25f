"""A tenant wired to the Vantagepoint and Stripe simulators, in process, for the ar-stripe flow.

Stripe's clock moves only when our client sleeps (its limiter, its backoff), so the 25
requests/s test-mode limit and every retry cost no real time; Vantagepoint answers at once.
The tenant bills one client firm through Stripe (`billed`), in USD unless a test says so.
"""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from billing.ar_stripe import AR_STRIPE
from billing.ar_stripe.flow import AR_STRIPE_FLOW
from billing.models import StripeBilledClient, StripeBilling
from billing.stripe import stripe_client_options
from connector.clients import client_options
from connector.http import mount_transport, unmount_transport
from connector.models import Document, SyncRun, SyncRunStatus, Trigger
from connector.ratelimit import LocalRateLimiter
from connector.sync import cursor_advance, sync_run_execute
from connector.vantagepoint.records import format_datetime
from sandbox import vantagepoint as vp_sandbox
from sandbox.stripe import SANDBOX_SECRET_KEY, StripeSimulator
from tenants.models import StripeConnection, Tenant, VantagepointConnection
from tests.sim_time import SimulatedTime

VP_URL = "http://vp.test/Sandbox/api"
STRIPE_URL = "https://api.stripe.test"
CURSOR = AR_STRIPE_FLOW.cursor_name


@pytest.fixture
def vp_sim():
    return vp_sandbox.create_app(seed_size=12)


@pytest.fixture
def stripe_sim() -> StripeSimulator:
    return StripeSimulator(frozen_clock=True, random_seed=11)


@pytest.fixture
def sim_time(stripe_sim) -> SimulatedTime:
    return SimulatedTime(stripe_sim)


def top_projects(vp_sim) -> list[dict]:
    return [p for p in vp_sim.tables.projects if p["WBS2"].strip() == "" and p["Status"] == "A"]


@pytest.fixture
def billed(vp_sim) -> dict:
    """The firm (Vantagepoint row) of the first active project: billed through Stripe."""
    return vp_sim.tables.firm(top_projects(vp_sim)[0]["BillingClientID"])


@pytest.fixture
def stripe_tenant(db, vp_sim, stripe_sim, sim_time, billed):
    tenant = Tenant.objects.create(name="Demo Engineering LLP", slug="acme-eng")
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=VP_URL, database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET)
    StripeConnection.objects.create(tenant=tenant, enabled=True, secret_key=SANDBOX_SECRET_KEY, api_base=STRIPE_URL)
    billing = StripeBilling.objects.create(tenant=tenant, currency="usd")
    StripeBilledClient.objects.create(billing=billing, client_id=billed["ClientID"], name=billed["Name"])
    mount_transport(VP_URL, httpx.WSGITransport(app=vp_sim))
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    with client_options(vantagepoint={"sleep": lambda s: None}), \
            stripe_client_options(transport=stripe_sim.transport(), sleep=sim_time.sleep, limiter=limiter):
        cursor_advance(tenant=tenant, stream=CURSOR, value=format_datetime(vp_sim.clock.now()))
        yield tenant
    unmount_transport(VP_URL)


def run_cycle(tenant, trigger: str = Trigger.SCHEDULED) -> SyncRun:
    """One cycle, its documents processed before it returns (as `manage.py sync` runs it)."""
    run = sync_run_execute(tenant=tenant, flow_name=AR_STRIPE, trigger=trigger, inline=True)
    assert run.status == SyncRunStatus.SUCCEEDED, run.error
    return run


def post_invoice(vp_sim, firm: dict, lines: list[tuple[str, str, str]] | None = None, **kwargs) -> dict:
    """Post an AR invoice billed to `firm`; lines are (description, quantity, unit price)."""
    project = next(p for p in top_projects(vp_sim) if p["BillingClientID"] == firm["ClientID"])
    rows = None
    if lines is not None:
        rows = [{"WBS2": " ", "WBS3": " ", "Account": "4010.00", "Description": d, "Quantity": Decimal(q),
                 "UnitPrice": Decimal(u)} for d, q, u in lines]
    return vp_sim.add_posted_invoice(wbs1=project["WBS1"], lines=rows, **kwargs)


def documents(tenant) -> list[Document]:
    return list(Document.objects.filter(tenant=tenant, flow=AR_STRIPE).order_by("pk"))


def settle(tenant, *, rounds: int = 20) -> list[Document]:
    """Retry every retrying document (as the retry sweep would, without waiting) until none is left."""
    from connector.models import DocumentState
    from connector.pipeline import document_process

    for _ in range(rounds):
        waiting = [d for d in documents(tenant) if d.state == DocumentState.RETRYING]
        if not waiting:
            break
        for document in waiting:
            document_process(document, trigger=Trigger.RETRY)
    return documents(tenant)


def invoices_in_stripe(stripe_sim, tenant) -> list[dict]:
    return [i for i in stripe_sim.objects("invoice") if i["metadata"].get("ml_tenant") == tenant.slug]


def customers_in_stripe(stripe_sim, tenant) -> list[dict]:
    return [c for c in stripe_sim.objects("customer") if (c.get("metadata") or {}).get("ml_tenant") == tenant.slug]


def refused_requests(stripe_sim) -> list:
    """Requests the simulator's strict checks refused (400/401/402/403/404/409): never the flow's."""
    return [r for r in stripe_sim.requests if r.status is not None and 400 <= r.status < 429]
