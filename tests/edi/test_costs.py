"""What one document costs: SQL statements, writes of the document row, HTTP clients built.

Bounds, not timings (this machine is shared): statements are counted with Django's
CaptureQueriesContext, leaving out SAVEPOINT/RELEASE (the test's own transaction turns every
atomic block into one; in production they are BEGIN/COMMIT). Measured the same way before the
engine step of issue 10: an ar-810 invoice cost 24.1 statements with 6 writes of its document
row; an 810-ap invoice (its share of a file of ten) 28.9, with 10 mapping-override lookups and 4
writes; and every step built its own HTTP client (21 for 10 ar-810 invoices, 31 for the file).
Now, on top of what was added (effect rows, the control-number index, run counts): 25.4 and
26.9 here with database locks, 23.2 and 24.3 on PostgreSQL with Redis locks; 3 writes each.
"""
from __future__ import annotations

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connector.clients import vantagepoint_client
from connector.http import http_clients_built, mount_transport, unmount_transport
from connector.models import Document, DocumentState
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.models import PartnerClient
from sandbox import vantagepoint as vp_sandbox
from tenants.models import VantagepointConnection
from tests.factories import make_partner

from .inbound.conftest import SNACKS_SENDER, poll
from .outbound.conftest import CURSOR, first_client_project, run_cycle

pytestmark = pytest.mark.django_db
INVOICES = 10


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def document_writes(sql: list[str]) -> int:
    """Writes of one document row at a time (the bulk 'queued' mark of a cycle is not one)."""
    return sum(1 for s in sql if s.startswith('UPDATE "connector_document"') and ' IN (' not in s)


def test_an_ar_810_invoice_costs_a_bounded_number_of_statements_and_two_clients(edi_tenant, vp_sim, cleo_sim):
    from connector.cursors import cursor_advance
    from connector.vantagepoint.records import format_datetime

    cursor_advance(tenant=edi_tenant, stream=CURSOR, value=format_datetime(vp_sim.clock.now()))
    partner = make_partner(edi_tenant, outbound_folder="Outbound", inbound_folder="")
    PartnerClient.objects.create(tenant=edi_tenant, partner=partner,
                                 client_id=first_client_project(vp_sim)["BillingClientID"])
    wbs1 = first_client_project(vp_sim)["WBS1"]
    for _ in range(INVOICES):
        vp_sim.clock.advance(60)
        vp_sim.add_posted_invoice(wbs1=wbs1)
    built = http_clients_built()

    with CaptureQueriesContext(connection) as captured:
        run = run_cycle(edi_tenant)

    assert run.counts["sent"] == INVOICES
    sql = statements(captured)
    per_invoice = len(sql) / INVOICES
    print(f"\nar-810: {per_invoice:.1f} statements and {document_writes(sql) / INVOICES:.1f} document writes "
          f"per invoice; {http_clients_built() - built} HTTP clients for {INVOICES} invoices")
    assert per_invoice <= 27, "receive 3, lock 2, steps 3 x (attempt + write) + 2 audits, effect 2, numbers 3, " \
                              "the same-number check 1, ..."
    assert document_writes(sql) == 3 * INVOICES, "one write per step, none per field group"
    assert http_clients_built() - built <= 2, "one per connection (Vantagepoint, Cleo), not one per step"
    cleo_folder_lookups = [c for c in cleo_sim.calls_to(path_contains="/api/folders", method="GET")
                           if not c.path.endswith("/files")]
    assert len(cleo_folder_lookups) == 1, "the Outbound folder is looked up once per cycle, not per upload"


def test_an_810_ap_invoice_costs_a_bounded_number_of_statements(edi_tenant, vp_sim, cleo_sim):
    make_partner(edi_tenant, name="Snack Foods", their_isa_qualifier="ZZ", their_isa_id=SNACKS_SENDER,
                 their_gs_id="SENDERDEPT", our_isa_id="RECEIVERISA", our_gs_id="007326879", inbound_folder="Inbound",
                 outbound_folder="Outbound", default_vendor="V90001", default_account="5010.00")
    invoices = [supplier_invoice(f"SF-{n}", po="2023001.00") for n in range(INVOICES)]
    cleo_sim.put_file("Inbound", "ten.edi", supplier_interchange(invoices, interchange=77, sender_id=SNACKS_SENDER))
    built = http_clients_built()

    with CaptureQueriesContext(connection) as captured:
        run = poll(edi_tenant)

    assert run.counts["posted"] == INVOICES
    sql = statements(captured)
    per_invoice = len(sql) / INVOICES
    overrides = sum(1 for s in sql if 'FROM "edi_mappingoverride"' in s)
    print(f"\n810-ap: {per_invoice:.1f} statements per invoice (the file's own share included), "
          f"{overrides} override lookups; {http_clients_built() - built} HTTP clients")
    assert per_invoice <= 28
    assert overrides == INVOICES, "the tenant's overrides read once per invoice, not once per candidate value"
    assert http_clients_built() - built <= 2


def test_a_changed_connection_gets_a_client_of_its_own(edi_tenant, vp_sim):
    with vantagepoint_client(edi_tenant) as vp:
        before = vp.session.http.http
    again = vantagepoint_client(edi_tenant)
    assert again.session.http.http is before, "the same connection reuses its pool"

    moved = "http://vp-moved.test/Sandbox/api"
    mount_transport(moved, httpx.WSGITransport(app=vp_sandbox.create_app(seed_size=3)))
    try:
        VantagepointConnection.objects.filter(tenant=edi_tenant).update(base_url=moved, access_token="")
        edi_tenant.refresh_from_db()
        with vantagepoint_client(edi_tenant) as vp:
            assert vp.session.http.http is not before, "built from another URL: never the old one's pool"
            assert vp.firms(clients=True), "and it reaches the new address"
    finally:
        unmount_transport(moved)
    assert Document.objects.filter(state=DocumentState.FAILED).count() == 0
