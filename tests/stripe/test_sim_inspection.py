"""The simulator's inspection and control API under /_sandbox/, in process and served."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandbox.servers import SIMULATORS, create_simulator, serve_in_thread
from sandbox.stripe import SANDBOX_SECRET_KEY
from tests.stripe.conftest import BASE_URL
from tests.stripe.test_sim_billing import ok, open_invoice

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox(sim):
    with httpx.Client(base_url=f"{BASE_URL}/_sandbox", transport=sim.transport()) as client:
        yield client


def test_every_request_is_listed_with_its_parameters_and_idempotency_key_never_the_key(api, sim, sandbox):
    api.post("/v1/customers", data={"name": "Acme", "metadata[vp_firm]": "F-100"}, headers={"Idempotency-Key": "k-1"})
    api.get("/v1/customers", params={"limit": "3"})
    api.post("/v1/customers", data={"nmae": "typo"})
    listed = sandbox.get("/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in listed] == [
        ("POST", "/v1/customers", 200), ("GET", "/v1/customers", 200), ("POST", "/v1/customers", 400)]
    assert listed[0]["params"] == {"name": "Acme", "metadata": {"vp_firm": "F-100"}}
    assert listed[0]["idempotency_key"] == "k-1" and listed[0]["key_last4"] == SANDBOX_SECRET_KEY[-4:]
    assert listed[1]["params"] == {"limit": "3"}
    assert listed[2]["error"]["param"] == "nmae"
    only_posts = sandbox.get("/requests", params={"method": "POST"}).json()
    assert len(only_posts) == 2
    everything = sandbox.get("/requests").text + sandbox.get("/state").text + repr(sim.requests)
    assert SANDBOX_SECRET_KEY not in everything and SANDBOX_SECRET_KEY[8:-4] not in everything


def test_state_objects_and_events(api, sim, sandbox):
    iid = open_invoice(api)
    state = sandbox.get("/state").json()
    assert state["objects"]["invoice"] == 1 and state["rate_limit"] == 25
    assert state["accounts"][0]["keys"] == [{"last4": SANDBOX_SECRET_KEY[-4:], "livemode": False, "state": "active",
                                             "restricted": False}]
    assert [i["id"] for i in sandbox.get("/objects/invoices").json()] == [iid]
    assert [e["type"] for e in sandbox.get("/events", params={"type": "invoice.finalized"}).json()] == ["invoice.finalized"]


def test_the_customer_pays_and_stripe_refunds_through_the_sandbox(api, sim, sandbox):
    iid = open_invoice(api)
    charge = sandbox.post(f"/invoices/{iid}/pay", json={"amount": 4000}).json()
    assert charge["amount"] == 4000
    assert ok(api.get(f"/v1/invoices/{iid}"))["amount_remaining"] == 6000
    refund = sandbox.post(f"/charges/{charge['id']}/refund", json={"amount": 1000, "pending": True}).json()
    assert refund["status"] == "pending"
    assert sandbox.post(f"/refunds/{refund['id']}/settle", json={"status": "succeeded"}).json()["status"] == "succeeded"
    seeded = sandbox.post("/customers", json={"name": "Globex", "metadata": {"vp_firm": "F-200"}}).json()
    found = ok(api.get("/v1/customers/search", params={"query": "metadata['vp_firm']:'F-200'"}))
    assert [c["id"] for c in found["data"]] == [seeded["id"]], "seeded customers are searchable at once"


def test_faults_limits_keys_and_clock_over_http(api, sim, sandbox):
    assert sandbox.post("/faults", json={"kind": "503", "method": "GET"}).status_code == 201
    assert api.get("/v1/account").status_code == 503
    sandbox.post("/rate_limit", json={"per_second": 1})
    api.get("/v1/account")
    assert api.get("/v1/account").status_code == 429
    sandbox.post("/clock/advance", params={"seconds": "1"})
    assert api.get("/v1/account").status_code == 200
    secret = sandbox.post("/keys", json={}).json()["secret"]
    assert secret.startswith("sk_test_")
    sandbox.post("/keys/revoke", json={"secret": secret})
    with httpx.Client(base_url=BASE_URL, transport=sim.transport(), auth=(secret, "")) as other:
        assert other.get("/v1/account").status_code == 401
    assert sandbox.post("/faults", json={"kind": "explode"}).status_code == 400


def test_webhook_endpoints_show_their_secret_once(sandbox):
    made = sandbox.post("/webhook_endpoints", json={"url": "http://127.0.0.1:8401/hook/"}).json()
    assert made["secret"].startswith("whsec_")
    listed = sandbox.get("/webhook_endpoints").json()
    assert [e["url"] for e in listed] == ["http://127.0.0.1:8401/hook/"]
    assert made["secret"] not in sandbox.get("/webhook_endpoints").text


def free_port_in(first: int, last: int) -> int:
    """A free port in the range this work may use (8400-8449 on the shared machine)."""
    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {first}-{last}")


def test_manage_py_sandbox_stripe_serves_it(tmp_path):
    assert SIMULATORS["stripe"] == "sandbox.stripe"
    # The command is a development tool: installed with DEBUG on (production has no sandbox app).
    env = {**os.environ, "DEBUG": "1"}
    refused = subprocess.run([sys.executable, "manage.py", "sandbox", "nostripe", "--port", "8400"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "nostripe" in refused.stderr, refused.stderr
    port = free_port_in(8400, 8449)
    log = (tmp_path / "sandbox.log").open("w")
    server = subprocess.Popen([sys.executable, "manage.py", "sandbox", "stripe", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def answered() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_for(answered, "the simulator to listen", timeout=60)
        account = httpx.get(f"http://127.0.0.1:{port}/v1/account", auth=(SANDBOX_SECRET_KEY, ""))
        assert account.json()["id"] == "acct_1SandboxEngLLC0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_served_over_http_it_answers_the_api_and_delivers_webhooks_by_itself():
    sim = create_simulator("stripe", random_seed=3)
    received: list[bytes] = []

    def hook(environ, start_response):
        received.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    server, thread = serve_in_thread(sim, port=0)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        sim.add_webhook_endpoint("http://hook.test/", "whsec_x", transport=httpx.WSGITransport(app=hook))
        made = httpx.post(f"{base}/v1/customers", data={"name": "Acme"}, auth=(SANDBOX_SECRET_KEY, ""))
        assert made.status_code == 200 and made.headers["Request-Id"].startswith("req_")
        assert httpx.get(f"{base}/_sandbox/state").json()["objects"]["customer"] == 1
        _wait_for(lambda: received, "the delivery thread to send customer.created")
    finally:
        sim.webhooks.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
