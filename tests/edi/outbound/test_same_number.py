"""Two invoices with the same number (BIG02) to one partner: the second is held, naming the
first, until a human sends it anyway (audited, from the document page) or ignores it."""
from __future__ import annotations

import pytest
from django.urls import reverse

from connector.documents import document_ignore
from connector.models import Document, DocumentState
from edi.models import OutboundControl
from edi.outbound import AR_810
from edi.outbound.held import RELEASED
from tests.factories import make_user

from .conftest import first_client_project, outbound_files, run_cycle

pytestmark = pytest.mark.django_db


def post_twice(vp_sim, number: str) -> None:
    wbs1 = first_client_project(vp_sim)["WBS1"]
    for _ in range(2):
        vp_sim.clock.advance(60)
        vp_sim.add_posted_invoice(wbs1=wbs1, invoice=number)


def held_pair(edi_tenant, vp_sim, number: str) -> tuple[Document, Document]:
    post_twice(vp_sim, number)
    run_cycle(edi_tenant)
    first, second = Document.objects.filter(flow=AR_810, reference=number).order_by("pk")
    return first, second


def test_the_second_invoice_with_a_number_is_held_naming_the_first(edi_tenant, vp_sim, cleo_sim, partner,
                                                                   after_seed):
    first, second = held_pair(edi_tenant, vp_sim, "DUP-1")

    assert first.state == DocumentState.SENT
    assert (second.state, second.step) == (DocumentState.NEEDS_MAPPING, "render")
    assert f"partner Harbor EDI already has invoice number DUP-1 from document {first.pk}" in second.last_error
    assert first.external_key in second.last_error
    assert second.mapped["held"]["same_number_as"] == first.pk
    assert len(outbound_files(cleo_sim)) == 1, "one 810 reached the partner"
    assert not second.effects.exists() and "isa13" not in second.external_ids, "no numbers, no file"
    assert not OutboundControl.objects.filter(document=second).exists()
    assert OutboundControl.objects.get(document=first).invoice_number == "DUP-1"


def test_send_anyway_from_the_document_page_sends_it_and_audits_who_and_why(client, edi_tenant, vp_sim, cleo_sim,
                                                                            partner, after_seed):
    first, second = held_pair(edi_tenant, vp_sim, "DUP-2")
    client.force_login(make_user("fiona", tenant=edi_tenant))
    url = reverse("admin:connector_document_flow_action", args=[second.pk, "send_anyway"])
    page = client.get(reverse("admin:connector_document_change", args=[second.pk])).content.decode()
    assert url in page and "Send anyway" in page

    assert client.get(url).status_code == 200
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200 and refused.context["form"].errors, "a reason is required"
    assert client.post(url, {"reason": "the partner asked for a re-bill under the same number"}).status_code == 302

    second.refresh_from_db()
    assert second.state == DocumentState.SENT, second.last_error
    release = second.audit_events.get(action=RELEASED)
    assert release.user.username == "fiona" and "re-bill under the same number" in release.reason
    assert str(first.pk) in release.reason
    assert len(outbound_files(cleo_sim)) == 2
    assert client.get(url).status_code == 404, "offered only while held"


def test_a_held_invoice_can_be_ignored_and_a_new_number_is_not_held(edi_tenant, vp_sim, cleo_sim,
                                                                               partner, after_seed):
    _, second = held_pair(edi_tenant, vp_sim, "DUP-3")
    document_ignore(document=second, user=make_user("ivan", tenant=edi_tenant), reason="a re-post of DUP-3")
    assert second.state == DocumentState.IGNORED

    vp_sim.clock.advance(60)
    vp_sim.add_posted_invoice(wbs1=first_client_project(vp_sim)["WBS1"], invoice="DUP-4")
    run_cycle(edi_tenant)
    assert Document.objects.get(flow=AR_810, reference="DUP-4").state == DocumentState.SENT


def test_another_tenant_cannot_reach_the_action(client, edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    from tenants.models import Tenant

    _, second = held_pair(edi_tenant, vp_sim, "DUP-5")
    other = Tenant.objects.create(name="Other", slug="other")
    client.force_login(make_user("olga", tenant=other))
    url = reverse("admin:connector_document_flow_action", args=[second.pk, "send_anyway"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x"}).status_code == 404
    second.refresh_from_db()
    assert second.state == DocumentState.NEEDS_MAPPING
