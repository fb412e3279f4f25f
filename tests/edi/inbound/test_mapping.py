"""A parked invoice names what to map; the admin offers the override form pre-filled from the
document, checks the target in Vantagepoint, and a replay then posts the invoice."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from connector.models import DocumentState
from connector.replay import document_replay
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.inbound.flow import inbound_document_links
from edi.models import MappingKind, MappingOverride
from tests.factories import make_user

from .conftest import document_for, poll, sample_files

pytestmark = pytest.mark.django_db

ARIBA = "ZZ:ABCMUSICSUPPLY"


@pytest.fixture
def parked(edi_tenant, partner, cleo_sim):
    """The Ariba sample: from a sender that is not the partner, for a PO Vantagepoint lacks."""
    sample = next(p for p in sample_files() if p.name.startswith("03_"))
    cleo_sim.put_file("Inbound", sample.name, sample.read_bytes())
    poll(edi_tenant)
    document = document_for(edi_tenant, "DO091003TESTINV01")
    assert document.state == DocumentState.NEEDS_MAPPING
    return document


def test_the_document_links_a_prefilled_form_for_each_missing_item(edi_tenant, parked):
    links = inbound_document_links(parked)

    forms = [(label, parse_qs(urlsplit(url).query)) for label, url in links if "mappingoverride" in url]
    assert [label for label, _ in forms] == [f"Create the vendor mapping for {ARIBA}",
                                             "Create the project mapping for DO091003"]
    assert forms[0][1] == {"tenant": [str(edi_tenant.pk)], "kind": ["vendor"], "source_value": [ARIBA],
                           "note": [f"for {parked.external_key}"]}
    assert any(label.startswith("The file it came in") for label, _ in links)


def test_overrides_and_a_replay_post_the_parked_invoice(edi_tenant, parked, vp_sim):
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.VENDOR, source_value=ARIBA, target="V90003")
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.PROJECT, source_value="DO091003",
                                   target="2023001.00")
    document_replay(parked, user=None)

    assert parked.state == DocumentState.POSTED, parked.last_error
    assert parked.mapped["voucher"]["rules"]["vendor"] == f"override for sender {ARIBA}"
    assert "missing" not in parked.mapped and inbound_document_links(parked)[0][0].startswith("The file")
    assert {r["Vendor"] for r in vp_sim.ledger("AP") if r["Invoice"] == "DO091003TESTINV01"} == {"V90003"}


def test_an_override_whose_target_vanished_parks_again_naming_the_override(edi_tenant, parked):
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.VENDOR, source_value=ARIBA, target="V99999")
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.PROJECT, source_value="DO091003",
                                   target="2023002.00")  # a project with phases, and no phase named
    document_replay(parked, user=None)

    assert parked.state == DocumentState.NEEDS_MAPPING
    assert parked.last_error == (f"vendor V99999 does not exist in Vantagepoint (from the override for sender {ARIBA}); "
                                 "project 2023002.00 has phases: name a phase (from the override for PO DO091003)")


def test_the_admin_journey_from_parked_to_posted(client, edi_tenant, parked, vp_sim):
    client.force_login(make_user("fiona", tenant=edi_tenant))
    page = client.get(reverse("admin:connector_document_change", args=[parked.pk]))
    assert page.status_code == 200
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]*mappingoverride/add/\?[^"]*)"', page.content.decode())]
    assert len(hrefs) == 2

    for href, target in zip(hrefs, ("V90002", "2023001.00"), strict=True):
        form_page = client.get(href)
        assert form_page.status_code == 200
        initial = form_page.context["adminform"].form.initial
        assert initial["source_value"] in (ARIBA, "DO091003") and int(initial["tenant"]) == edi_tenant.pk
        assert f'value="{initial["source_value"]}"' in form_page.content.decode(), "pre-filled on the page"
        saved = client.post(href, {**{k: v for k, v in initial.items()}, "target": target, "target_wbs2": "",
                                   "target_wbs3": "", "_save": "Save"})
        assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert MappingOverride.objects.filter(tenant=edi_tenant).count() == 2

    replay_url = reverse("admin:connector_document_actions", args=[parked.pk, "replay"])
    confirmation = client.get(replay_url)
    assert confirmation.status_code == 200 and parked.external_key in confirmation.content.decode()
    parked.refresh_from_db()
    assert parked.state == DocumentState.NEEDS_MAPPING, "nothing runs before the confirmation"
    assert client.post(replay_url, {"confirm": "yes"}).status_code == 302

    parked.refresh_from_db()
    assert parked.state == DocumentState.POSTED, parked.last_error
    assert parked.audit_events.filter(action="replay", user__username="fiona").exists()
    assert [r["Vendor"] for r in vp_sim.ledger("AP") if r["Invoice"] == "DO091003TESTINV01"][:1] == ["V90002"]


@pytest.mark.parametrize(("kind", "target", "wbs2", "wbs3", "error"), [
    ("vendor", "V99999", "", "", "Vantagepoint says: vendor V99999 does not exist in Vantagepoint."),
    ("project", "2023002.00", "", "", "Vantagepoint says: project 2023002.00 has phases: name a phase."),
    ("project", "2023003.00", "01", "", "Vantagepoint says: phase 01 of project 2023003.00 has tasks: name a task."),
    ("project", "2023004.00", "", "", "Vantagepoint says: project 2023004.00 is inactive: it takes no new charges."),
    ("account", "9999.99", "", "", "Vantagepoint says: GL account 9999.99 does not exist in Vantagepoint."),
    ("vendor", "V90001", "01", "", "Only a project mapping names a phase and task."),
])
def test_the_override_form_refuses_a_target_vantagepoint_does_not_have(client, edi_tenant, kind, target, wbs2, wbs3,
                                                                       error):
    client.force_login(make_user(tenant=edi_tenant))
    response = client.post(reverse("admin:edi_mappingoverride_add"), {
        "tenant": edi_tenant.pk, "kind": kind, "source_value": "PO-1", "target": target, "target_wbs2": wbs2,
        "target_wbs3": wbs3, "note": ""})

    assert response.status_code == 200
    errors = [str(e) for errs in response.context["adminform"].form.errors.values() for e in errs]
    assert errors == [error]
    assert not MappingOverride.objects.exists()


def test_the_override_form_accepts_a_lowest_level_task_and_an_account(client, edi_tenant):
    client.force_login(make_user(tenant=edi_tenant))
    url = reverse("admin:edi_mappingoverride_add")
    for data in ({"kind": "project", "source_value": "PO-2", "target": "2023003.00", "target_wbs2": "01",
                  "target_wbs3": "002"},
                 {"kind": "account", "source_value": "FREIGHT", "target": "6010.00"}):
        response = client.post(url, {"tenant": edi_tenant.pk, "target_wbs2": "", "target_wbs3": "", "note": "",
                                     **data})
        assert response.status_code == 302
    assert MappingOverride.objects.count() == 2


def test_the_override_form_says_when_vantagepoint_cannot_be_reached(client, edi_tenant, vp_sim):
    client.force_login(make_user(tenant=edi_tenant))
    vp_sim.faults.fail(503, times=None)
    response = client.post(reverse("admin:edi_mappingoverride_add"), {
        "tenant": edi_tenant.pk, "kind": "vendor", "source_value": ARIBA, "target": "V90001", "note": ""})

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert len(errors) == 1 and errors[0].startswith("Vantagepoint could not be reached to check the target")
    assert not MappingOverride.objects.exists()


def test_a_document_naming_a_new_po_parks_until_mapped(edi_tenant, partner, cleo_sim):
    """The sender is the partner (its default vendor applies); only the project is missing."""
    content = supplier_interchange([supplier_invoice("SF-900", po="PO-4471")], interchange=71, sender_id="SENDERISA")
    cleo_sim.put_file("Inbound", "new-po.edi", content)
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-900")
    assert document.last_error == "no project for PO PO-4471"
    assert document.mapped["missing"] == [{"kind": "project", "source_value": "PO-4471",
                                           "message": "no project for PO PO-4471"}]
