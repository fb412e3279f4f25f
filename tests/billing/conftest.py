"""Fixtures for billing: an endpoint with a known secret, a Stripe payment flow stub, and the
tasks the code sends (captured, never published, unless a test asks for the real broker).

The captured broker plays the worker for one task: a nudge to drain the webhook outbox runs
the drain at once (as a worker would, after the request's commit), so a test sees the
document and the `connector.process_document` it sends right after its delivery. Nudges are
sent in the request's thread here, not from the nudger thread."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread
from django.urls import reverse

from billing.models import WebhookEndpoint, WebhookSecret
from billing.webhooks import handoff, receive
from billing.webhooks.handoff import DRAIN_TASK, STRIPE_PAYMENT_FLOW
from connector.celery import app as celery_app
from connector.flows import Flow, Step, get_flow, register, unregister
from tests.factories import make_tenant

from .events import event_body, invoice_paid_event, signature_header

SECRET = "whsec_Test5ECRETvalue0123456789abcd"
OTHER_SECRET = "whsec_Other5ECRETvalue987654321xyz"


class SentTasks(list):
    """(task name, kwargs) of every send_task, from any thread (the live server's too)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def add(self, name: str, kwargs: dict) -> None:
        with self.lock:
            self.append((name, kwargs))


@pytest.fixture(autouse=True)
def nudges_in_the_request(monkeypatch):
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", False)
    receive.endpoint_keys_forget()
    yield
    receive.endpoint_keys_forget()


@pytest.fixture(autouse=True)
def sent_tasks(request, monkeypatch):
    if "real_broker" in request.fixturenames:
        yield None
        return
    sent = SentTasks()
    # Here too, for tests elsewhere that import this fixture (the browser's webhook journey).
    monkeypatch.setattr(handoff, "NUDGE_IN_BACKGROUND", False)

    def send_task(name, args=None, kwargs=None, **options):
        if name == DRAIN_TASK:
            handoff.webhook_events_drain()  # the worker's part, done at once
            return
        sent.add(name, kwargs or {})

    monkeypatch.setattr(celery_app, "send_task", send_task)
    yield sent


@pytest.fixture
def real_broker():
    """The configured broker itself (Redis in CI, the filesystem one locally)."""
    return celery_app


@pytest.fixture
def endpoint(db):
    endpoint = WebhookEndpoint.objects.create(tenant=make_tenant(), description="Live mode")
    WebhookSecret.objects.create(endpoint=endpoint, secret=SECRET)
    return endpoint


def webhook_url(endpoint) -> str:
    return reverse("billing:stripe-webhook", kwargs={"endpoint_key": str(endpoint.uuid)})


def signed_event(event_id: str = "evt_1QvVpS2eZvKYlo2Cabc00001", *secrets: str, timestamp: int | None = None,
                 **event_kwargs) -> tuple[bytes, str]:
    body = event_body(invoice_paid_event(event_id, **event_kwargs))
    return body, signature_header(body, *(secrets or (SECRET,)), timestamp=timestamp)


def deliver(client, endpoint, body: bytes, signature: str | None, *, url: str | None = None, method: str = "post"):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return getattr(client, method)(url or webhook_url(endpoint), data=body, content_type="application/json", **headers)


@pytest.fixture
def stub_payment_flow():
    """A one-step flow under the real flow's name: what it saw proves the hand-off."""
    try:
        previous = get_flow(STRIPE_PAYMENT_FLOW)
    except KeyError:
        previous = None
    seen: list[str] = []

    def record(ctx) -> None:
        seen.append(ctx.document.external_key)

    register(Flow(name=STRIPE_PAYMENT_FLOW, label="Stripe payment (test stub)", steps=(Step("record", record, "posted"),)))
    yield seen
    unregister(STRIPE_PAYMENT_FLOW)
    if previous is not None:
        register(previous)


class RoomyWSGIServer(ThreadedWSGIServer):
    """Django's threaded test server with a listen backlog for 50 simultaneous connections
    (it keeps 10, and the rest would be reset before the view ever saw them)."""

    request_queue_size = 128


class RoomyLiveServerThread(LiveServerThread):
    server_class = RoomyWSGIServer


@pytest.fixture
def roomy_live_server(transactional_db):
    """A live server (on a free port) that takes many concurrent deliveries; yields its URL."""
    thread = RoomyLiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error is not None:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def post_signed(url: str, body: bytes, signature: str) -> int:
    """POST a signed event body over HTTP; the status answered."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
