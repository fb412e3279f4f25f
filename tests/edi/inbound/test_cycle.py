"""The 810-ap cycle from its entry points: `manage.py sync`, the beat schedule, the demo's files;
and the Vantagepoint lookups that resolve a supplier nobody mapped."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connector.flows import get_flow
from connector.models import DocumentState, SyncRun
from connector.replay import document_replay
from connector.schedules import schedules_ensure_for_tenant
from edi.inbound import AP_810
from edi.inbound.demo import DEMO_PARTNER, inbound_demo_files, supplier_interchange, supplier_invoice
from edi.inbox import INBOX
from edi.models import MappingKind, MappingOverride
from tests.factories import make_partner

from .conftest import document_for, documents, poll, sample_files

pytestmark = pytest.mark.django_db


def test_manage_py_sync_runs_one_cycle(edi_tenant, partner, cleo_sim):
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.PROJECT, source_value="A99999-01",
                                   target="2023001.00")
    sample = next(p for p in sample_files() if p.name.startswith("01_"))
    cleo_sim.put_file("Inbound", sample.name, sample.read_bytes())
    out = io.StringIO()
    call_command("sync", INBOX, "--tenant", edi_tenant.slug, stdout=out)

    assert out.getvalue().startswith("cleo-inbox for acme-eng: Succeeded")
    assert "invoices_new 2" in out.getvalue() and "posted 1" in out.getvalue() and "needs_mapping 1" in out.getvalue()
    assert SyncRun.objects.get(flow=INBOX).counts["new"] == 1
    assert len(documents(edi_tenant)) == 2
    out = io.StringIO()
    call_command("sync", AP_810, "--tenant", edi_tenant.slug, stdout=out)
    assert out.getvalue().startswith("810-ap for acme-eng: Succeeded — nothing seen"), "nothing was left waiting"


def test_manage_py_sync_fails_loudly_when_a_folder_cannot_be_read(edi_tenant, partner):
    partner.inbound_folder = "No Such Folder"
    partner.save()
    with pytest.raises(CommandError, match="folder 'No Such Folder'"):
        call_command("sync", INBOX, "--tenant", edi_tenant.slug, stdout=io.StringIO())


def test_the_flow_is_scheduled_per_tenant_once_both_connections_are_enabled(edi_tenant):
    assert get_flow(AP_810).needs == ("vantagepointconnection", "cleoconnection")
    tasks = {t.name: t for t in schedules_ensure_for_tenant(edi_tenant)}
    for flow in (AP_810, INBOX):
        task = tasks[f"{flow} for {edi_tenant.slug}"]
        assert json.loads(task.kwargs) == {"tenant_id": edi_tenant.pk, "flow": flow} and task.enabled


def test_the_demo_files_post_two_invoices_and_park_one_until_its_po_is_mapped(edi_tenant, cleo_sim, vp_sim):
    make_partner(edi_tenant, **DEMO_PARTNER)
    for name, content in inbound_demo_files():
        cleo_sim.put_file("Inbound", name, content)
    poll(edi_tenant)

    states = {d.mapped["invoice"]["invoice_number"]: d.state for d in documents(edi_tenant)}
    assert states == {"DS-1001": DocumentState.POSTED, "DS-1002": DocumentState.NEEDS_MAPPING,
                      "DS-1003": DocumentState.POSTED}
    parked = document_for(edi_tenant, "DS-1002")
    assert parked.last_error == "no project for PO 7731"
    assert document_for(edi_tenant, "DS-1001").mapped["voucher"]["rules"]["vendor"] == "vendor code named in N1*VN"
    assert cleo_sim.file_names("Inbound Processed") == [name for name, _ in inbound_demo_files()]

    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.PROJECT, source_value="7731",
                                   target="2023001.00")
    document_replay(parked, user=None)
    assert parked.state == DocumentState.POSTED


def test_a_supplier_nobody_mapped_is_found_by_its_name_in_vantagepoint(edi_tenant, partner, cleo_sim, vp_sim):
    vendor = next(f for f in vp_sim.tables.firms if f["VendorInd"] == "Y" and f["ClientInd"] == "N")
    invoice = supplier_invoice("OT-1", po="2023001.00", vendor_code="DUNS-123")
    invoice.parties[0].name = vendor["Name"].upper()  # as the supplier spells it
    cleo_sim.put_file("Inbound", "other.edi", supplier_interchange([invoice], interchange=81, sender_id="OTHERCO"))
    poll(edi_tenant)

    document = document_for(edi_tenant, "OT-1")
    assert document.state == DocumentState.POSTED, document.last_error
    voucher = document.mapped["voucher"]
    assert voucher["vendor"] == vendor["Vendor"] and voucher["rules"]["vendor"].startswith("the one vendor named")


def test_the_partners_default_vendor_is_never_used_for_another_sender(edi_tenant, partner, cleo_sim):
    invoice = supplier_invoice("OT-2", po="2023001.00", vendor_code="DUNS-456")
    cleo_sim.put_file("Inbound", "stranger.edi", supplier_interchange([invoice], interchange=82, sender_id="STRANGER"))
    poll(edi_tenant)

    assert document_for(edi_tenant, "OT-2").last_error == "no vendor for sender ZZ:STRANGER (Harbor Supply)"


def test_an_account_override_on_a_product_id_wins_over_the_partner_default(edi_tenant, partner, cleo_sim, vp_sim):
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.ACCOUNT, source_value="SF-77-2",
                                   target="6010.00")
    invoice = supplier_invoice("SF-77", po="2023001.00", lines=(("1", "EA", "10.00", "Survey stakes"),
                                                                ("3", "EA", "4.50", "Marking paint")))
    cleo_sim.put_file("Inbound", "accounts.edi", supplier_interchange([invoice], interchange=83,
                                                                       sender_id="SENDERISA"))
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-77")
    rows = [r for r in vp_sim.ledger("AP") if r["Batch"] == document.external_ids["vantagepoint"]["batch"]]
    assert [(r["Description"], r["Account"]) for r in rows] == [("Survey stakes", "5010.00"),
                                                                ("Marking paint", "6010.00")]

