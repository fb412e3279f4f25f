"""What `make demo` seeds for the EDI flows: connections to the served simulators, a customer
trading partner billed through 810s, a supplier sending 810s, and a first cycle of each flow
as soon as everything is up (then beat runs them every 30 seconds).

Run through connector.demo's seeder registry, so the engine never imports edi/.
"""
from __future__ import annotations

import os
import sys
import threading

import httpx
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connector.demo import DemoPlan
from connector.schedules import schedules_ensure_for_tenant
from sandbox import cleo as cleo_sandbox
from sandbox import vantagepoint as vp_sandbox
from tenants.models import CleoConnection, Tenant, VantagepointConnection

from .demo_partner import partner_run
from .inbound.demo import DEMO_PARTNER, inbound_demo_files
from .models import PartnerClient, TradingPartner

VP_PORT = int(os.environ.get("DEMO_VP_PORT", "8101"))
CLEO_PORT = int(os.environ.get("DEMO_CLEO_PORT", "8102"))
DEMO_CYCLE_SECONDS = 30
# Client codes of the Vantagepoint simulator's seed billed through the customer partner.
EDI_CLIENT_CODES = ("C00001", "C00002", "C00003")


def edi_demo_seed(tenant: Tenant, plan: DemoPlan) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(
        legal_name="Demo Engineering LLP", address_line1="1 Federal Street", city="Boston", state="MA",
        postal_code="02110", country="US")
    VantagepointConnection.objects.update_or_create(tenant=tenant, defaults=dict(
        enabled=True, base_url=f"http://127.0.0.1:{VP_PORT}/Sandbox/api", database=vp_sandbox.SANDBOX_DATABASE,
        username=vp_sandbox.SANDBOX_USERNAME, password=vp_sandbox.SANDBOX_PASSWORD,
        client_id=vp_sandbox.SANDBOX_CLIENT_ID, client_secret=vp_sandbox.SANDBOX_CLIENT_SECRET,
        bank_code="OPER", ar_account=vp_sandbox.AR_ACCOUNT, liability_code="AP"))
    CleoConnection.objects.update_or_create(tenant=tenant, defaults=dict(
        enabled=True, base_url=f"http://127.0.0.1:{CLEO_PORT}", username=cleo_sandbox.SERVICE_USERNAME,
        password=cleo_sandbox.SERVICE_PASSWORD))
    customer, _ = TradingPartner.objects.get_or_create(tenant=tenant, name="Harbor Group (EDI billing)", defaults=dict(
        our_isa_id="MLCONNECTOR", our_gs_id="MLCONNECTOR", their_isa_id="HARBORGROUP", their_gs_id="HARBORGROUP",
        outbound_folder=cleo_sandbox.OUTBOUND_FOLDER, inbound_folder=""))
    for code in EDI_CLIENT_CODES:
        PartnerClient.objects.get_or_create(tenant=tenant, client_id=code, defaults={"partner": customer})
    TradingPartner.objects.get_or_create(tenant=tenant, name=DEMO_PARTNER["name"],
                                         defaults={k: v for k, v in DEMO_PARTNER.items() if k != "name"})

    tenant.refresh_from_db()
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=DEMO_CYCLE_SECONDS, period=IntervalSchedule.SECONDS)
    for task in schedules_ensure_for_tenant(tenant):
        PeriodicTask.objects.filter(pk=task.pk).update(interval=every_30s)

    python = sys.executable
    plan.processes["vantagepoint-sim"] = [python, "manage.py", "sandbox", "vantagepoint", "--port", str(VP_PORT)]
    plan.processes["cleo-sim"] = [python, "manage.py", "sandbox", "cleo", "--port", str(CLEO_PORT)]
    plan.wait_for_ports += [VP_PORT, CLEO_PORT]
    plan.after_start.append(lambda: _drop_supplier_files(CLEO_PORT))
    plan.after_start.append(lambda: _first_cycles(tenant))
    plan.after_start.append(lambda: _partner_answers(CLEO_PORT))
    plan.notes += [
        f"Vantagepoint simulator: http://127.0.0.1:{VP_PORT}/Sandbox/api ; "
        f"Cleo simulator: http://127.0.0.1:{CLEO_PORT}/ (state: /_sandbox/state)",
        f"ar-810 sends the invoices of clients {', '.join(EDI_CLIENT_CODES)} to the Cleo folder "
        f"'{cleo_sandbox.OUTBOUND_FOLDER}'; other clients' invoices wait in 'Needs mapping'.",
        "810-ap imports the supplier files dropped into 'Inbound'; DS-1002 waits for a project mapping "
        "(open it, follow the link, save, replay).",
        "Harbor Group (the simulated partner) answers each 810 with a 997 in 'Inbound': the second one it "
        "gets is rejected (AK5 R), the others acknowledged; open the rejected one and use Send corrected….",
    ]


def _drop_supplier_files(port: int) -> None:
    """Put the supplier files into the served Cleo simulator, unless a previous start did."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=10) as http:
        state = http.get("/_sandbox/state").json()
        present = {f.get("name") for t in state.get("tenants", []) for folder in t.get("folders", [])
                   for f in folder.get("files", [])}
        for name, content in inbound_demo_files():
            if name not in present:
                http.post(f"/_sandbox/folders/{cleo_sandbox.INBOUND_FOLDER}/files", params={"filename": name},
                          content=content).raise_for_status()


def _partner_answers(port: int) -> None:
    """The simulated customer partner (edi/demo_partner.py) answering our 810s with 997s, in a
    thread of the demo's own process once the simulators are up (no process more to start)."""
    threading.Thread(target=partner_run, args=(f"http://127.0.0.1:{port}",), daemon=True,
                     name="demo-partner").start()


def _first_cycles(tenant: Tenant) -> None:
    from connector.tasks import run_flow

    for flow in ("ar-810", "cleo-inbox", "810-ap"):
        run_flow.delay(tenant.pk, flow)
