"""An 810-ap document as people read and find it: invoice number, vendor, partner, amount;
"1002" finds DS-1002; the file it came in, our 997 back and the voucher it became, linked;
the file and our 997 one segment per line with downloads of their exact bytes."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from connector.models import Document, DocumentState
from edi.inbound import AP_810
from edi.inbound.demo import DEMO_PARTNER, inbound_demo_files
from edi.links import invoices_in_file
from tests.factories import make_partner, make_user

from .conftest import document_for, ledger, poll

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_files_taken_in(edi_tenant, cleo_sim, vp_sim):
    make_partner(edi_tenant, **DEMO_PARTNER)
    for name, content in inbound_demo_files():
        cleo_sim.put_file("Inbound", name, content)
    poll(edi_tenant)
    return edi_tenant


@pytest.fixture
def superuser_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


def listed(client, query: str = "") -> str:
    return client.get(reverse("admin:connector_document_changelist"), {"q": query} if query else {}).content.decode()


def test_a_supplier_invoice_carries_its_number_vendor_partner_and_amount(demo_files_taken_in):
    parked = document_for(demo_files_taken_in, "DS-1002")
    assert parked.state == DocumentState.NEEDS_MAPPING
    assert (parked.reference, parked.counterparty, parked.partner) == ("DS-1002", "Harbor Supply", "Demo Supply Co")
    assert (parked.amount, parked.currency) == (Decimal("980.00"), "USD")
    posted = document_for(demo_files_taken_in, "DS-1001")
    assert posted.counterparty == "Harbor Supply (V90001)", "the resolved vendor code joins the name"
    assert posted.amount == Decimal("500.00")


@pytest.mark.parametrize("query", ["1002", "ds-1002", "DEMOSUPPLY_810_1002", "7731"])
def test_a_partial_number_a_file_name_or_a_po_finds_ds_1002(demo_files_taken_in, superuser_client, query):
    html = listed(superuser_client, query)
    assert "DS-1002" in html
    assert "DS-1001" not in html


def test_a_vendor_name_and_an_external_id_find_their_invoices(demo_files_taken_in, superuser_client):
    assert all(f"DS-100{n}" in listed(superuser_client, "harbor sup") for n in (1, 2, 3))
    voucher = document_for(demo_files_taken_in, "DS-1001").external_ids["vantagepoint"]["voucher"]
    html = listed(superuser_client, voucher)
    assert "DS-1001" in html and "DS-1002" not in html
    assert "DS-1002" not in listed(superuser_client, "1002 nosuchword"), "every word must match"


def test_the_invoice_links_to_its_file_our_997_and_its_voucher(demo_files_taken_in, superuser_client):
    posted = document_for(demo_files_taken_in, "DS-1001")
    entry = ledger(demo_files_taken_in, "DEMOSUPPLY_810_1001.edi")
    html = superuser_client.get(reverse("admin:connector_document_change", args=[posted.pk])).content.decode()
    file_url = reverse("admin:edi_inboundfile_change", args=[entry.pk])
    assert f'href="{file_url}"' in html and f'href="{file_url}#our-997"' in html
    assert entry.document.artifact_name and entry.document.artifact_name in html
    assert f"voucher {posted.external_ids['vantagepoint']['voucher']}" in html


def test_a_file_lists_its_invoices_and_shows_itself_and_our_997_one_segment_per_line(demo_files_taken_in,
                                                                                     superuser_client, cleo_sim):
    entry = ledger(demo_files_taken_in, "DEMOSUPPLY_810_1002.edi")
    assert sorted(d.reference for d in invoices_in_file(entry)) == ["DS-1002", "DS-1003"]
    html = superuser_client.get(reverse("admin:edi_inboundfile_change", args=[entry.pk])).content.decode()
    for document in Document.objects.filter(flow=AP_810, reference__in=["DS-1002", "DS-1003"]):
        assert reverse("admin:connector_document_change", args=[document.pk]) in html
    assert "\nBIG*20240610*DS-1002*" in html, "the partner's file one segment per line"
    assert 'id="our-997"' in html and "\nAK1*IN*" in html, "our 997 one segment per line"

    raw = superuser_client.get(reverse("admin:edi_inboundfile_download", args=[entry.pk, "raw"]))
    assert raw.content == bytes(entry.raw) == dict(inbound_demo_files())["DEMOSUPPLY_810_1002.edi"]
    ack = superuser_client.get(reverse("admin:edi_inboundfile_download", args=[entry.pk, "ack"]))
    sent = next(f for f in cleo_sim.files("Outbound") if f.name == entry.document.artifact_name)
    assert ack.content == sent.content, "our 997 as the partner received it"
