"""A rejected 810 is sent corrected from its page: a new document, linked both ways, with new
control numbers and a new file name; the rejected one keeps its numbers (a late 997 still
finds it) and its file; both audit trails say who and why."""
from __future__ import annotations

import pytest
from django.urls import reverse

from connector.flows import ActionRefused
from connector.models import Document, DocumentState
from edi.models import OutboundControl
from edi.outbound import AR_810
from edi.outbound.acks import acknowledgments_apply
from edi.outbound.corrected import CORRECTED, send_corrected
from tests.factories import make_user

from .conftest import outbound_files, run_cycle
from .test_acks_and_admin import partner_997
from .test_cycle import documents, post_invoices

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (sent,) = documents(DocumentState.SENT)
    reply = partner_997(outbound_files(cleo_sim)[sent.artifact_name], tamper=("N4*Boston*MA*", "N4*Boston*MASS*"))
    assert acknowledgments_apply(tenant=edi_tenant, partner=partner, text=reply, source="Inbound/997-r.edi")[
        "rejected"] == 1
    sent.refresh_from_db()
    assert sent.state == DocumentState.REJECTED
    return sent


def test_send_corrected_from_the_page_sends_a_new_linked_810_with_new_numbers_and_name(
        client, edi_tenant, cleo_sim, partner, rejected):
    old_control = OutboundControl.objects.get(document=rejected)
    client.force_login(make_user("fiona", tenant=edi_tenant))
    url = reverse("admin:connector_document_flow_action", args=[rejected.pk, "send_corrected"])
    page = client.get(reverse("admin:connector_document_change", args=[rejected.pk])).content.decode()
    assert url in page, "offered on the rejected document's page"
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": "fixed the client's state code in Vantagepoint"}).status_code == 302

    rejected.refresh_from_db()
    correction = Document.objects.get(pk=rejected.external_ids["corrected_by"])
    assert correction.state == DocumentState.SENT, correction.last_error
    assert correction.flow == AR_810 and correction.external_key == f"{rejected.external_key}:corrected-1"
    assert correction.external_ids["corrects"] == rejected.pk
    assert correction.reference == rejected.reference, "the same invoice"
    assert correction.artifact_name != rejected.artifact_name
    assert set(outbound_files(cleo_sim)) == {rejected.artifact_name, correction.artifact_name}
    new_control = OutboundControl.objects.get(document=correction)
    assert (new_control.interchange, new_control.group, new_control.set_control) != (
        old_control.interchange, old_control.group, old_control.set_control)
    assert OutboundControl.objects.get(document=rejected) == old_control, "the old numbers stay indexed to it"
    assert rejected.state == DocumentState.REJECTED

    assert rejected.audit_events.get(action=CORRECTED).user.username == "fiona"
    assert "state code" in correction.audit_events.get(action="correction_of").reason
    both = (client.get(reverse("admin:connector_document_change", args=[d.pk])).content.decode()
            for d in (rejected, correction))
    old_page, new_page = both
    assert reverse("admin:connector_document_change", args=[correction.pk]) in old_page
    assert reverse("admin:connector_document_change", args=[rejected.pk]) in new_page
    assert client.get(url).status_code == 404, "a document is corrected once"


def test_a_late_997_for_the_old_numbers_still_finds_the_rejected_document(edi_tenant, cleo_sim, partner, rejected):
    files = outbound_files(cleo_sim)
    send_corrected(document=rejected, user=None, reason="fixed")
    rejected.refresh_from_db()
    correction = Document.objects.get(pk=rejected.external_ids["corrected_by"])

    acknowledgments_apply(tenant=edi_tenant, partner=partner, text=partner_997(files[rejected.artifact_name]),
                          source="Inbound/997-late.edi")
    rejected.refresh_from_db()
    correction.refresh_from_db()
    assert rejected.state == DocumentState.ACKNOWLEDGED, "the old numbers answer the old document"
    assert correction.state == DocumentState.SENT


def test_only_a_rejected_810_is_sent_corrected_and_only_once(edi_tenant, rejected):
    send_corrected(document=rejected, user=None, reason="fixed")
    with pytest.raises(ActionRefused, match="already corrected"):
        send_corrected(document=rejected, user=None, reason="again")
    correction = Document.objects.get(pk=rejected.external_ids["corrected_by"])
    with pytest.raises(ActionRefused, match="only a rejected 810"):
        send_corrected(document=correction, user=None, reason="not rejected")
    assert Document.objects.filter(flow=AR_810).count() == 2


def test_a_rejected_correction_is_corrected_again_under_the_next_key(edi_tenant, cleo_sim, partner, rejected):
    send_corrected(document=rejected, user=None, reason="first fix")
    rejected.refresh_from_db()
    first = Document.objects.get(pk=rejected.external_ids["corrected_by"])
    reply = partner_997(outbound_files(cleo_sim)[first.artifact_name], tamper=("N4*Boston*MA*", "N4*Boston*MASS*"))
    acknowledgments_apply(tenant=edi_tenant, partner=partner, text=reply, source="Inbound/997-r2.edi")
    first.refresh_from_db()
    assert first.state == DocumentState.REJECTED

    send_corrected(document=first, user=None, reason="second fix")
    first.refresh_from_db()
    second = Document.objects.get(pk=first.external_ids["corrected_by"])
    assert second.external_key == f"{rejected.external_key}:corrected-2"
    assert second.external_ids["corrects_chain"] == [rejected.pk, first.pk]
    assert second.state == DocumentState.SENT, "not held: the numbers it shares are the ones it corrects"
