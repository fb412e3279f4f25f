"""An ar-810 document as people read it: its business columns, the 810 one segment per line
with a download of the bytes the partner received, and a link to the 997 that answered it."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from connector.models import DocumentState
from edi.inbox import INBOX
from edi.links import invoices_answered_by
from edi.models import InboundFile
from tests.factories import make_user

from .conftest import outbound_files, run_cycle
from .test_acks_and_admin import partner_997
from .test_cycle import documents, post_invoices

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


def test_an_ar_invoice_is_listed_by_its_number_client_partner_and_amount(edi_tenant, vp_sim, cleo_sim, partner,
                                                                          after_seed, superuser_client):
    (posted,) = post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (document,) = documents()
    assert document.reference == posted["Invoice"] and document.reference != document.external_key
    assert document.partner == "Harbor EDI"
    assert document.counterparty and document.counterparty == document.mapped["client"]["name"]
    assert document.amount == sum(Decimal(line["amount"]) for line in json.loads(document.raw)["lines"])
    assert document.currency == "USD"

    html = superuser_client.get(reverse("admin:connector_document_changelist")).content.decode()
    for column in (document.reference, document.counterparty, "Harbor EDI", f"{document.amount:,.2f} USD"):
        assert column in html


def test_the_810_is_shown_one_segment_per_line_and_downloads_as_the_partner_received_it(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, superuser_client):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (document,) = documents()
    received_by_partner = outbound_files(cleo_sim)[document.artifact_name]

    html = superuser_client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert "\nGS*IN*" in html and "\nST*810*" in html and "\nIEA*1*" in html, "one segment per line"
    download = reverse("admin:connector_document_download", args=[document.pk, "artifact"])
    assert download in html
    response = superuser_client.get(download)
    assert response.status_code == 200
    assert response.content == received_by_partner, "the exact bytes that were uploaded"
    assert response["Content-Disposition"] == f'attachment; filename="{document.artifact_name}"'


def test_an_810_links_to_the_997_file_that_answered_it_and_the_file_back_to_it(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, superuser_client):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (document,) = documents()
    reply = partner_997(outbound_files(cleo_sim)[document.artifact_name])
    cleo_sim.put_file(partner.inbound_folder, "997_0001.edi", reply)
    run_cycle(edi_tenant, flow=INBOX)  # the Cleo inbox takes the partner's files in, not ar-810
    document.refresh_from_db()
    assert document.state == DocumentState.ACKNOWLEDGED
    entry = InboundFile.objects.get(tenant=edi_tenant, name="997_0001.edi")

    html = superuser_client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert reverse("admin:edi_inboundfile_change", args=[entry.pk]) in html, "the 810 links to the 997 file"
    assert f"{partner.inbound_folder}/997_0001.edi" in html

    assert [d.pk for d in invoices_answered_by(entry)] == [document.pk]
    page = superuser_client.get(reverse("admin:edi_inboundfile_change", args=[entry.pk])).content.decode()
    assert reverse("admin:connector_document_change", args=[document.pk]) in page, "the 997 file links to the 810"
    assert "\nAK1*IN*" in page, "the partner's 997 one segment per line"
