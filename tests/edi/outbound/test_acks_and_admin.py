"""What a human sees and does: the partner's 997 on the document, an invoice waiting for its
trading partner, and the admin's replay actions bringing documents home."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from connector.models import Document, DocumentState
from edi.inbox import INBOX
from edi.models import PartnerClient
from edi.outbound import AR_810
from edi.outbound.acks import acknowledgments_apply
from edi.x12 import ControlNumbers, build_997
from tests.factories import make_partner, make_user
from tests.x12.helpers import VALID_4010

from .conftest import OUTBOUND, WorkerKilled, outbound_files, run_cycle
from .test_cycle import documents, post_invoices


@pytest.fixture
def superuser_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


def partner_997(content: bytes, *, tamper: tuple[str, str] | None = None) -> str:
    """The 997 the partner's translator answers our file with (after `tamper`, to make it reject)."""
    text = content.decode()
    if tamper:
        assert tamper[0] in text
        text = text.replace(*tamper, 1)
    return build_997(text, controls=ControlNumbers(501, 501, 1))


def test_a_997_marks_one_810_acknowledged_and_rejects_another_with_the_partners_codes_on_its_page(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, superuser_client):
    post_invoices(vp_sim, 2)
    run_cycle(edi_tenant)
    accepted, rejected = documents(DocumentState.SENT)
    files = outbound_files(cleo_sim)

    counts = acknowledgments_apply(tenant=edi_tenant, partner=partner, text=partner_997(files[accepted.artifact_name]),
                                   source="Inbound/997-1.edi")
    assert counts == {"sets": 1, "acknowledged": 1, "rejected": 0, "unchanged": 0, "not_sent": 0, "unmatched": 0}
    reply = partner_997(files[rejected.artifact_name], tamper=("N4*Boston*MA*", "N4*Boston*MASS*"))
    assert "AK5*R" in reply
    counts = acknowledgments_apply(tenant=edi_tenant, partner=partner, text=reply, source="Inbound/997-2.edi")
    assert counts["rejected"] == 1

    accepted.refresh_from_db()
    rejected.refresh_from_db()
    assert accepted.state == DocumentState.ACKNOWLEDGED and accepted.last_error == ""
    assert rejected.state == DocumentState.REJECTED
    assert "AK4 N402 code 5: element too long (value 'MASS')" in rejected.last_error
    assert "AK5 code 5: one or more segments in error" in rejected.last_error
    assert rejected.audit_events.filter(action="997_applied", to_state=DocumentState.REJECTED,
                                        reason__contains="Inbound/997-2.edi").exists()

    page = superuser_client.get(reverse("admin:connector_document_change", args=[rejected.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rejected" in html
    assert "AK4 N402 code 5: element too long (value &#x27;MASS&#x27;)" in html
    assert "\nBIG*" in html and "\nN1*BT*" in html, "the 810 shows one segment per line"

    again = acknowledgments_apply(tenant=edi_tenant, partner=partner, text=reply, source="Inbound/997-2-resent.edi")
    assert again["unchanged"] == 1, "the same answer twice changes nothing"


def test_a_997_for_a_set_we_never_sent_is_counted_not_applied(edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (document,) = documents(DocumentState.SENT)
    content = outbound_files(cleo_sim)[document.artifact_name].decode()
    gs06 = document.external_ids["gs06"]
    other = content.replace(f"*{gs06}*X*", f"*{gs06 + 900}*X*").replace(f"GE*1*{gs06}~", f"GE*1*{gs06 + 900}~")
    counts = acknowledgments_apply(tenant=edi_tenant, partner=partner, text=partner_997(other.encode()),
                                   source="Inbound/997-x.edi")
    assert counts["unmatched"] == 1 and counts["acknowledged"] == 0
    # Another partner's 997 with the same numbers is not ours either.
    stranger = make_partner(edi_tenant, name="Other partner")
    counts = acknowledgments_apply(tenant=edi_tenant, partner=stranger, text=partner_997(content.encode()),
                                   source="Inbound/997-y.edi")
    assert counts["unmatched"] == 1
    document.refresh_from_db()
    assert document.state == DocumentState.SENT


def test_a_997_whose_control_numbers_hold_superscripts_answers_nothing_of_ours(edi_tenant, partner):
    """'7²' passes str.isdigit but not int(): it is no number we handed out, not a crash."""
    reply = build_997(VALID_4010, controls=ControlNumbers(601, 601, 1))
    for old, new in (("AK1*IN*7~", "AK1*IN*7\u00b2~"), ("AK2*810*0001~", "AK2*810*0001\u00b2~")):
        assert old in reply
        counts = acknowledgments_apply(tenant=edi_tenant, partner=partner, text=reply.replace(old, new),
                                       source="Inbound/997-superscript.edi")
        assert counts["unmatched"] == 1 and counts["sets"] == 1


def test_a_997_that_arrives_before_the_upload_is_committed_is_applied_when_it_is(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, worker_dies_after_upload):
    post_invoices(vp_sim, 1)
    with pytest.raises(WorkerKilled):
        run_cycle(edi_tenant)
    (document,) = documents()
    counts = acknowledgments_apply(tenant=edi_tenant, partner=partner,
                                   text=partner_997(outbound_files(cleo_sim)[document.artifact_name]),
                                   source="Inbound/997-early.edi")
    assert counts["not_sent"] == 1

    worker_dies_after_upload()  # revive: the next worker lives
    run_cycle(edi_tenant)
    document.refresh_from_db()
    assert document.state == DocumentState.ACKNOWLEDGED
    assert len(outbound_files(cleo_sim)) == 1


def test_a_client_without_a_partner_waits_visibly_then_goes_out_after_the_mapping_and_a_replay(
        edi_tenant, vp_sim, cleo_sim, billed_client, after_seed, superuser_client, eager_celery):
    post_invoices(vp_sim, 1)
    run = run_cycle(edi_tenant)
    (document,) = documents()
    assert document.state == DocumentState.NEEDS_MAPPING and document.step == "map"
    assert run.counts["needs_mapping"] == 1 and outbound_files(cleo_sim) == {}
    client_name = document.mapped["client"]["name"]
    assert f"client {client_name} (" in document.last_error and billed_client in document.last_error

    page = superuser_client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert f"Add client {client_name} to a trading partner, then replay" in page
    assert reverse("admin:edi_tradingpartner_changelist") in page

    partner = make_partner(edi_tenant, outbound_folder=OUTBOUND)
    PartnerClient.objects.create(tenant=edi_tenant, partner=partner, client_id=billed_client)
    assert run_cycle(edi_tenant).counts.get("sent", 0) == 0, "a parked document waits for a human, not for the cycle"

    url = reverse("admin:connector_document_actions", args=[document.pk, "replay"])
    confirmation = superuser_client.get(url)
    assert confirmation.status_code == 200 and "Yes, replay 1 document" in confirmation.content.decode()
    assert outbound_files(cleo_sim) == {}, "nothing happens before the confirmation"
    done = superuser_client.post(url, {"confirm": "yes"}, follow=True)
    assert "Queued a replay of 1 document" in done.content.decode(), "the message says what was queued"
    document.refresh_from_db()
    assert document.state == DocumentState.SENT
    assert list(outbound_files(cleo_sim)) == [document.artifact_name]
    assert LogEntry.objects.filter(object_id=str(document.pk), change_message__contains="Replay queued").exists()
    page = superuser_client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert "Replayed by root at " in page and "; now sent." in page, "the document page shows the outcome"


def test_replay_failures_since_sends_what_failed_once_the_cause_is_fixed(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, superuser_client, eager_celery):
    edi_tenant.address_line1 = ""
    edi_tenant.save()
    post_invoices(vp_sim, 2)
    run_cycle(edi_tenant)
    failed = documents(DocumentState.FAILED)
    assert len(failed) == 2 and all("remit-to address" in d.last_error for d in failed)
    assert {d.failure_kind for d in failed} == {"config"}

    edi_tenant.address_line1 = "1 Main Street"
    edi_tenant.save()
    url = reverse("admin:connector_document_actions", args=["replay_failures_since"])
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    confirmation = superuser_client.post(url, {"since": since, "flow": AR_810})
    assert "Yes, replay 2 documents" in confirmation.content.decode()
    assert superuser_client.post(url, {"since": since, "flow": AR_810, "confirm": "yes"}).status_code == 302

    assert len(documents(DocumentState.SENT)) == 2
    assert len(outbound_files(cleo_sim)) == 2
    assert LogEntry.objects.filter(object_id__in=[str(d.pk) for d in failed]).count() == 2


def test_the_document_page_shows_the_mapped_invoice_and_links_to_its_partner(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, superuser_client):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    (document,) = Document.objects.filter(flow=AR_810)
    html = superuser_client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert reverse("admin:edi_tradingpartner_change", args=[partner.pk]) in html
    assert '<th scope="row">invoice number</th>' in html, "the mapped invoice is a table, not JSON"
    assert document.artifact_name in html
    assert reverse("admin:connector_document_actions", args=[document.pk, "replay"]) not in html, \
        "a sent document offers no replay"


def test_the_inbox_picks_the_partners_997_up_from_its_folder_and_marks_the_810(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 2)
    run_cycle(edi_tenant)
    accepted, rejected = documents(DocumentState.SENT)
    files = outbound_files(cleo_sim)
    cleo_sim.put_file(partner.inbound_folder, "997_0001.edi", partner_997(files[accepted.artifact_name]))
    cleo_sim.put_file(partner.inbound_folder, "997_0002.edi", partner_997(
        files[rejected.artifact_name], tamper=("N4*Boston*MA*", "N4*Boston*MASS*")))

    assert run_cycle(edi_tenant).counts.get("queued", 0) == 0, "the ar-810 cycle leaves the inbound folder alone"
    assert len(cleo_sim.files(partner.inbound_folder)) == 2
    run = run_cycle(edi_tenant, flow=INBOX)

    accepted.refresh_from_db()
    rejected.refresh_from_db()
    assert (accepted.state, rejected.state) == (DocumentState.ACKNOWLEDGED, DocumentState.REJECTED)
    assert "AK4 N402 code 5" in rejected.last_error and f"{partner.inbound_folder}/997_0002.edi" in rejected.last_error
    assert run.counts["acknowledgments"] == 2
    assert cleo_sim.files(partner.inbound_folder) == [], "picked up as the partner says (deleted)"
    assert len(outbound_files(cleo_sim)) == 2, "a 997 is never answered with a 997"
    assert run_cycle(edi_tenant, flow=INBOX).counts.get("acknowledgments", 0) == 0, "each 997 is applied once"
