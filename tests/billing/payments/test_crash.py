"""A worker SIGKILLed between the receipt's post in Vantagepoint and our commit: after the retry,
one receipt. Real processes: the simulators served over HTTP in this process, a Celery worker
on a private queue, the event delivered through the view with a real signature."""
from __future__ import annotations

import json
import signal

import pytest

from billing.payments.demo import stripe_invoice_create
from billing.payments.flow import STRIPE_PAYMENT
from connector.celery import app as celery_app
from connector.models import Document, DocumentState, EffectState, Trigger
from connector.tasks import process_document
from sandbox import vantagepoint as vp_sandbox
from sandbox.servers import serve_in_thread
from sandbox.stripe import LATEST, SANDBOX_SECRET_KEY, StripeSimulator
from tenants.models import StripeConnection, Tenant, VantagepointConnection
from tests.billing.conftest import SECRET, deliver
from tests.billing.events import signature_header
from tests.engine.test_ledger_flow import lock_lapse
from tests.factories import make_webhook_endpoint
from tests.workers import private_queue, wait_for, worker_start, worker_stop

from .worker_app import KILL_SWITCH_ENV

PORTS = range(8460, 8480)  # this worktree's own


def serve(app):
    for port in PORTS:
        try:
            server, _ = serve_in_thread(app, port=port)
        except OSError:
            continue
        return server, f"http://127.0.0.1:{port}"
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture
def served():
    vp_sim, stripe_sim = vp_sandbox.create_app(seed_size=12), StripeSimulator(rate_limit=None, random_seed=5)
    (vp_server, vp_url), (stripe_server, stripe_url) = serve(vp_sim), serve(stripe_sim)
    yield vp_sim, vp_url + "/Sandbox/api", stripe_sim, stripe_url
    for server in (vp_server, stripe_server):
        server.shutdown()
        server.server_close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_receipt_post_leaves_one_receipt_after_the_retry(served, client, tmp_path,
                                                                                  monkeypatch, sent_tasks):
    import httpx

    vp_sim, vp_url, stripe_sim, stripe_url = served
    tenant = Tenant.objects.create(name="Crash Test LLP", slug="crash", time_zone="UTC")
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=True, base_url=vp_url, database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP")
    StripeConnection.objects.create(tenant=tenant, enabled=True, secret_key=SANDBOX_SECRET_KEY, api_base=stripe_url)
    endpoint = make_webhook_endpoint(tenant, secret=SECRET)
    posted = vp_sim.add_posted_invoice()
    from connector.clients import vantagepoint_client
    with vantagepoint_client(tenant) as vp:
        invoice = vp.ar_invoice(posted["Invoice"], posted["Period"], posted["PostSeq"])
    with httpx.Client(base_url=stripe_url, auth=(SANDBOX_SECRET_KEY, ""), headers={"Stripe-Version": LATEST}) as http:
        opened = stripe_invoice_create(http, tenant_slug=tenant.slug, invoice=invoice)
    charge = stripe_sim.pay_invoice(opened["id"])
    body = json.dumps(stripe_sim.events("charge.succeeded")[-1], indent=2).encode()
    assert deliver(client, endpoint, body, signature_header(body, SECRET)).status_code == 200
    for name, kwargs in [t for t in sent_tasks if t[0] != process_document.name]:
        celery_app.tasks[name].apply(kwargs=kwargs).get()  # any hand-off the view deferred
    document = Document.objects.get(tenant=tenant, flow=STRIPE_PAYMENT)
    work = {"document_id": document.pk, "trigger": Trigger.WEBHOOK, "user_id": None}
    assert (process_document.name, work) in sent_tasks, "the processing the view queued"
    monkeypatch.undo()  # from here on, tasks go to the real broker, on this test's own queue

    switch = tmp_path / "kill-after-post"
    switch.touch()
    queue, env = private_queue(), {KILL_SWITCH_ENV: str(switch)}
    worker = worker_start(queue=queue, log_path=tmp_path / "killed.log", env=env,
                          app="tests.billing.payments.worker_app")
    try:
        process_document.apply_async(kwargs=work, queue=queue)
        wait_for(lambda: worker.poll() is not None, timeout=90, what="the worker to be killed mid-task")
    finally:
        worker_stop(worker)
    assert worker.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    document.refresh_from_db()
    effect = document.effects.get()
    assert (effect.state, effect.calls) == (EffectState.UNKNOWN, 1), "declared and marked before the post"
    assert document.state == DocumentState.MAPPED and document.step == "post", "nothing after the post committed"
    rows = [r for r in vp_sim.tables.ledgers["CR"] if r["Invoice"] == invoice.invoice]
    assert [r["RefNo"] for r in rows] == [charge["payment_intent"]], "the receipt did post"

    lock_lapse(f"document:{document.pk}")
    worker = worker_start(queue=queue, log_path=tmp_path / "retry.log", env=env, app="tests.billing.payments.worker_app")
    try:
        process_document.apply_async(kwargs=work, queue=queue)  # the redelivery, or the sweep's
        wait_for(lambda: Document.objects.filter(pk=document.pk, state=DocumentState.POSTED).exists(),
                 timeout=90, what="the document to be posted after the retry")
    finally:
        worker_stop(worker)

    effect.refresh_from_db()
    document.refresh_from_db()
    assert (effect.state, effect.confirmed_by, effect.calls) == (EffectState.CONFIRMED, "look", 1), \
        "the retry looked in the CR ledger, found the batch, and did not post again"
    rows = [r for r in vp_sim.tables.ledgers["CR"] if r["Invoice"] == invoice.invoice]
    assert len(rows) == 1, "one receipt"
    assert len(vp_sim.requests_to("/DataEntry/PostTransFile")) == 1
    assert document.external_ids["ar_status"] == "paid"
    assert effect.key == rows[0]["Batch"], "the effect's key is the batch name"
