"""Fixing a mapping in the admin replays every invoice waiting on it: the override form's save
queues the replay of triage's group (audited, with a link to its progress), and the invoice
posts once nothing else is missing. The queue runs in the test (eager tasks)."""
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from connector.models import AuditEvent, DocumentState
from console.models import GroupReplay, ReplayStatus
from console.triage import triage_pass
from edi.models import PartnerClient
from tests.factories import make_user

from .conftest import document_for, poll, sample_files
from .test_mapping import ARIBA

pytestmark = pytest.mark.django_db


@pytest.fixture
def parked_twice(edi_tenant, partner, cleo_sim):
    """Sample 03 with a second copy under another invoice number: two invoices waiting on the
    same vendor and the same PO."""
    sample = next(p for p in sample_files() if p.name.startswith("03_")).read_bytes()
    cleo_sim.put_file("Inbound", "ariba-1.edi", sample)
    cleo_sim.put_file("Inbound", "ariba-2.edi", sample.replace(b"DO091003TESTINV01", b"DO091003TESTINV02")
                      .replace(b"*000000001*", b"*000000002*"))
    poll(edi_tenant)
    parked = [document_for(edi_tenant, n) for n in ("DO091003TESTINV01", "DO091003TESTINV02")]
    assert {d.state for d in parked} == {DocumentState.NEEDS_MAPPING}, [d.last_error for d in parked]
    triage_pass()
    return parked


def save_override(client, tenant, kind, source_value, target, capture):
    with capture(execute=True):
        response = client.post(reverse("admin:edi_mappingoverride_add"), {
            "tenant": tenant.pk, "kind": kind, "source_value": source_value, "target": target, "target_wbs2": "",
            "target_wbs3": "", "note": "", "_save": "Save"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_saving_each_missing_mapping_replays_the_invoices_waiting_on_it_until_they_post(
        client, edi_tenant, parked_twice, vp_sim, django_capture_on_commit_callbacks):
    fiona = make_user("fiona", tenant=edi_tenant)
    client.force_login(fiona)

    said = save_override(client, edi_tenant, "vendor", ARIBA, "V90003", django_capture_on_commit_callbacks)
    vendor_job = GroupReplay.objects.get()
    assert any(f"Replaying the 2 documents waiting on vendor mapping {ARIBA} → V90003" in m
               and reverse("admin:console_groupreplay_change", args=[vendor_job.pk]) in m for m in said), said
    assert (vendor_job.status, vendor_job.finished) == (ReplayStatus.FINISHED, 2)
    for document in parked_twice:
        document.refresh_from_db()
        assert document.state == DocumentState.NEEDS_MAPPING and document.last_error == "no project for PO DO091003"

    triage_pass()  # the periodic pass places them in the project's group only
    said = save_override(client, edi_tenant, "project", "DO091003", "2023001.00", django_capture_on_commit_callbacks)
    project_job = GroupReplay.objects.exclude(pk=vendor_job.pk).get()
    assert any("Replaying the 2 documents waiting on project mapping DO091003" in m for m in said), said
    for document in parked_twice:
        document.refresh_from_db()
        assert document.state == DocumentState.POSTED, document.last_error
    assert {r["Invoice"] for r in vp_sim.ledger("AP")} >= {"DO091003TESTINV01", "DO091003TESTINV02"}
    assert project_job.items.filter(outcome=DocumentState.POSTED).count() == 2
    audit = AuditEvent.objects.get(tenant=edi_tenant, action="group_replay", reason__contains="DO091003 →")
    assert audit.user == fiona and "saved by fiona" in audit.reason


def test_a_mapping_nothing_waits_on_saves_quietly(client, edi_tenant, parked_twice, django_capture_on_commit_callbacks):
    client.force_login(make_user(tenant=edi_tenant))
    said = save_override(client, edi_tenant, "vendor", "ZZ:SOMEONEELSE", "V90003", django_capture_on_commit_callbacks)
    assert not GroupReplay.objects.exists() and not any("Replaying" in m for m in said)


def test_a_client_firm_given_to_a_partner_replays_its_parked_ar_invoices(client, edi_tenant, partner,
                                                                         django_capture_on_commit_callbacks,
                                                                         monkeypatch):
    from tests.console.conftest import waiting_document

    document = waiting_document(edi_tenant, "INV-7", [], flow="ar-810", step="map")
    document.mapped = {"client": {"client_id": "C-0001", "code": "ACMECO", "name": "Acme Co"}}
    document.save(update_fields=["mapped"])
    triage_pass()
    sent = []
    monkeypatch.setattr("console.replays.process_document_send", lambda item, uid: sent.append(item.document_id))
    client.force_login(make_user(tenant=edi_tenant))
    url = reverse("admin:edi_tradingpartner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "tenant"}
    data.update({"tenant": edi_tenant.pk, "clients-TOTAL_FORMS": 1, "clients-INITIAL_FORMS": 0,
                 "clients-0-client_id": "C-0001", "clients-0-name": "Acme Co", "_save": "Save"})
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert PartnerClient.objects.filter(partner=partner, client_id="C-0001").exists()
    assert sent == [document.pk]
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Replaying the 1 document waiting on client Acme Co billed through" in m for m in said), said
