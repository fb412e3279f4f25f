"""`manage.py demo` also serves the Stripe simulator, and within a minute the invoices of the
client firms the demo tenant bills through Stripe are finalized invoices there; then the
simulator pays some of them (one partly, one refunded) and the signed events become cash
receipts posted in the Vantagepoint simulator."""
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from billing.demo import STRIPE_CLIENT_CODES
from tests.test_demo import ROOT, free_port, poll


@pytest.mark.worker
def test_demo_finalizes_the_stripe_billed_firms_invoices_in_the_simulator(tmp_path):
    web, vp, cleo, stripe = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL",
                                                            "SECRET_KEY", "CREDENTIAL_KEYS", "ALLOWED_HOSTS")}
    env.update(DEBUG="1", VAR_DIR=str(tmp_path / "var"), DEMO_VP_PORT=str(vp), DEMO_CLEO_PORT=str(cleo),
               DEMO_STRIPE_PORT=str(stripe))
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(web)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            poll(lambda: httpx.get(f"http://127.0.0.1:{web}/admin/login/").status_code == 200, timeout=240,
                 what="the admin login page")
        except AssertionError as exc:
            log.flush()
            raise AssertionError(f"{exc}\n{(tmp_path / 'demo.log').read_text()[-3000:]}") from None

        def finalized():
            invoices = httpx.get(f"http://127.0.0.1:{stripe}/_sandbox/objects/invoices").json()
            # open, or already paid by the payments demo
            finalized = [i for i in invoices if i["status"] in ("open", "paid")]
            return finalized if len(finalized) >= 8 else None  # the seed's invoices of C00004-C00006

        invoices = poll(finalized, timeout=120, what="finalized invoices in the Stripe simulator")
        assert all(i["metadata"]["ml_tenant"] == "demo" and i["total"] > 0 for i in invoices)
        customers = httpx.get(f"http://127.0.0.1:{stripe}/_sandbox/objects/customers").json()
        assert sorted(c["metadata"].get("vp_client") for c in customers
                      if c["metadata"].get("ml_tenant") == "demo") == sorted(STRIPE_CLIENT_CODES)
        refused = httpx.get(f"http://127.0.0.1:{stripe}/_sandbox/requests").json()
        assert [r for r in refused if r["status"] and 400 <= r["status"] < 429] == []

        def receipts_posted():
            try:
                with contextlib.closing(sqlite3.connect(tmp_path / "var" / "db.sqlite3", timeout=5)) as db:
                    rows = db.execute("SELECT state, COUNT(*) FROM connector_document "
                                      "WHERE flow = 'stripe-payment' GROUP BY state").fetchall()
            except sqlite3.OperationalError:  # busy: the demo is writing
                return None
            states = dict(rows)
            # a card payment, a partial one, a payment and its refund: four receipts
            return states if states.get("posted", 0) >= 4 else None

        states = poll(receipts_posted, timeout=180, what="the demo payments' cash receipts posted")
        assert states.get("failed", 0) == 0, states
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert f"Stripe simulator: http://127.0.0.1:{stripe}/" in output
