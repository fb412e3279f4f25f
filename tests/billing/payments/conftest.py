"""A tenant wired to the Stripe and Vantagepoint simulators, with a webhook endpoint the Stripe
simulator delivers to through our real view (signed with the endpoint's secret, checked with
real HMAC), and the tools to run what the view queued.

The Stripe simulator runs on real time (its signatures must be fresh) without its rate
limit; our client's pacing waits on a private clock, so nothing sleeps.
"""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from django.test import Client

from billing.models import WebhookEndpoint, WebhookSecret
from billing.payments.payments import EVENT_TYPES
from billing.stripe.client import stripe_client_options
from connector.celery import app as celery_app
from connector.clients import client_options, vantagepoint_client
from connector.http import mount_transport, unmount_transport
from connector.models import Document
from connector.ratelimit import LocalRateLimiter
from sandbox import vantagepoint as vp_sandbox
from sandbox.stripe import LATEST, SANDBOX_SECRET_KEY, StripeSimulator
from tenants.models import StripeConnection, Tenant, VantagepointConnection
from tests.billing.conftest import SECRET, webhook_url

VP_URL = "http://vp.payments.test/Sandbox/api"
STRIPE_URL = "https://api.stripe.payments.test"


class DjangoTransport(httpx.BaseTransport):
    """Requests into our Django app through its test client: the view, its middleware and its
    database work as served, inside the test's transaction (a WSGIHandler would close it)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()
                   if k.lower() not in ("content-type", "content-length", "host")}
        response = Client().generic(request.method, request.url.raw_path.decode(), data=request.read(),
                                    content_type=request.headers.get("content-type", ""), **headers)
        return httpx.Response(response.status_code, content=response.content)


class PrivateClock:
    """Our client's rate limiter waits on this clock: a wait moves it, no time passes."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def stripe_sim() -> StripeSimulator:
    return StripeSimulator(rate_limit=None, random_seed=11)


@pytest.fixture
def vp_sim():
    return vp_sandbox.create_app(seed_size=12)


def wire(tenant: Tenant) -> None:
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=VP_URL, database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP")
    StripeConnection.objects.create(tenant=tenant, enabled=True, secret_key=SANDBOX_SECRET_KEY, api_base=STRIPE_URL)


@pytest.fixture
def wired(stripe_sim, vp_sim):
    """Both simulators mounted at the connections' URLs, clients that never sleep."""
    mount_transport(VP_URL, httpx.WSGITransport(app=vp_sim))
    mount_transport(STRIPE_URL, stripe_sim.transport())
    pace = PrivateClock()
    with client_options(vantagepoint={"sleep": lambda s: None}), \
            stripe_client_options(limiter=LocalRateLimiter(clock=pace.clock, sleep=pace.sleep), sleep=pace.sleep):
        yield
    unmount_transport(VP_URL)
    unmount_transport(STRIPE_URL)


@pytest.fixture
def tenant(db, wired) -> Tenant:
    tenant = Tenant.objects.create(name="Acme Engineering", slug="acme-pay", time_zone="America/New_York")
    wire(tenant)
    return tenant


@pytest.fixture
def pay_endpoint(tenant, stripe_sim) -> WebhookEndpoint:
    """Our endpoint, and the simulator's endpoint delivering to it in process through Django."""
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, description="Stripe test mode")
    WebhookSecret.objects.create(endpoint=endpoint, secret=SECRET)
    stripe_sim.add_webhook_endpoint(f"http://testserver{webhook_url(endpoint)}", SECRET, events=EVENT_TYPES,
                                    transport=DjangoTransport())
    return endpoint


@pytest.fixture
def stripe_http(stripe_sim):
    """Any client of the simulator's API (and its /_sandbox/ control API), with the sandbox key."""
    with httpx.Client(base_url=STRIPE_URL, transport=stripe_sim.transport(), auth=(SANDBOX_SECRET_KEY, ""),
                      headers={"Stripe-Version": LATEST}) as http:
        yield http


def run_sent(sent_tasks) -> int:
    """Run every task the view (or the work) sent, by name, in the order sent, until none is left."""
    done = 0
    while sent_tasks:
        with sent_tasks.lock:
            name, kwargs = sent_tasks.pop(0)
        celery_app.tasks[name].apply(kwargs=kwargs).get()
        done += 1
    return done


def vp_invoice(vp_sim, tenant: Tenant, *, wbs1: str | None = None):
    """A new posted AR invoice in the Vantagepoint simulator, read back as our client reads it."""
    posted = vp_sim.add_posted_invoice(wbs1=wbs1)
    with vantagepoint_client(tenant) as vp:
        return vp.ar_invoice(posted["Invoice"], posted["Period"], posted["PostSeq"])


def cr_rows(vp_sim, *, invoice: str | None = None) -> list[dict]:
    return [r for r in vp_sim.tables.ledgers["CR"] if invoice is None or r["Invoice"] == invoice]


def ar_balance(vp_sim, invoice) -> dict:
    return vp_sim.tables.ar_balance(invoice.project, invoice.invoice)


def documents(tenant) -> list[Document]:
    return list(Document.objects.filter(tenant=tenant, flow="stripe-payment").order_by("pk"))


def cents(amount: Decimal) -> int:
    return int(amount * 100)
