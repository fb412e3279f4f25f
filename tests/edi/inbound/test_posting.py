"""Posting: an invoice Vantagepoint already has is a duplicate, a lost answer or a crash after
PostTransFile never posts twice, and the voucher is what the invoice adds up to."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connector.models import DocumentState, EffectState, SyncRunStatus
from connector.pipeline import document_process
from connector.replay import document_replay, documents_retry_due
from connector.vantagepoint import VantagepointClient
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.models import MappingKind, MappingOverride

from .conftest import SNACKS_SENDER, ap_rows, document_for, documents, poll, sample_files

pytestmark = pytest.mark.django_db


class ProcessKilled(BaseException):
    """The worker dies: nothing after this line runs, no except clause of ours sees it."""


def drop_invoice(cleo_sim, name: str, number: str, *, interchange: int, **kwargs) -> None:
    content = supplier_interchange([supplier_invoice(number, **kwargs)], interchange=interchange,
                                   sender_id=SNACKS_SENDER)
    cleo_sim.put_file("Inbound", name, content)


def our_batches(vp_sim, document) -> list:
    return [b for b in vp_sim.posted_batches("AP") if b.name == document.external_ids["vantagepoint"]["batch"]]


def test_an_invoice_already_in_vantagepoint_is_marked_duplicate(edi_tenant, partner, cleo_sim, vp_sim):
    seeded = next(r for r in vp_sim.ledger("AP") if r["Vendor"] == "V90001")  # INV-5000, vouchered in January
    batches = len(vp_sim.posted_batches("AP"))
    drop_invoice(cleo_sim, "old.edi", seeded["Invoice"], interchange=11, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, seeded["Invoice"])
    assert document.state == DocumentState.DUPLICATE
    assert document.external_ids["duplicate_of"]["voucher"] == seeded["Voucher"]
    reason = document.audit_events.get(to_state=DocumentState.DUPLICATE).reason
    assert f"vendor V90001 already has invoice {seeded['Invoice']} in Vantagepoint (voucher {seeded['Voucher']}" in reason
    assert "its total" in reason and "differs from this one's 500.00" in reason
    assert len(vp_sim.posted_batches("AP")) == batches and "vantagepoint" not in document.external_ids


def test_an_invoice_resent_in_a_new_interchange_is_duplicate_of_the_one_posted(edi_tenant, partner, cleo_sim, vp_sim):
    drop_invoice(cleo_sim, "first.edi", "SF-100", interchange=21, po="2023001.00")
    poll(edi_tenant)
    drop_invoice(cleo_sim, "resent.edi", "SF-100", interchange=22, po="2023001.00")  # other ISA13, same bytes inside
    poll(edi_tenant)

    first, resent = documents(edi_tenant)
    assert (first.state, resent.state) == (DocumentState.POSTED, DocumentState.DUPLICATE)
    assert resent.external_ids["duplicate_of"]["voucher"] == first.external_ids["vantagepoint"]["voucher"]
    assert len([r for r in vp_sim.ledger("AP") if r["Invoice"] == "SF-100"]) == 1


def test_a_crash_between_posting_and_the_commit_does_not_post_twice(edi_tenant, partner, cleo_sim, vp_sim,
                                                                    monkeypatch):
    post = VantagepointClient.post_ap_voucher_batch

    def post_then_die(self, batch):
        post(self, batch)
        raise ProcessKilled("worker killed after Vantagepoint posted, before our commit")

    monkeypatch.setattr(VantagepointClient, "post_ap_voucher_batch", post_then_die)
    drop_invoice(cleo_sim, "crash.edi", "SF-200", interchange=31, po="2023001.00")
    with pytest.raises(ProcessKilled):
        poll(edi_tenant)
    monkeypatch.setattr(VantagepointClient, "post_ap_voucher_batch", post)

    document = document_for(edi_tenant, "SF-200")
    assert (document.state, document.step) == (DocumentState.MAPPED, "post"), "as the dead worker left it"
    posting = document.effects.get(name="post")
    batch = posting.key
    assert posting.state == EffectState.UNKNOWN and len(ap_rows(vp_sim, batch)) == 1, "posted, and named beforehand"
    # Whichever step it resumes at, the ledger holds our batch: found, never posted again.
    document_process(document, trigger="manual", from_step="check_duplicate")
    assert document.state == DocumentState.POSTED
    poll(edi_tenant)

    document.refresh_from_db()
    vantagepoint = document.external_ids["vantagepoint"]
    assert vantagepoint["already_posted"] is True and vantagepoint["batch"] == batch
    assert document.effects.get(name="post").confirmed_by == "look" and document.artifact_name == batch
    assert len(ap_rows(vp_sim, batch)) == 1 and len(our_batches(vp_sim, document)) == 1
    assert vantagepoint["voucher"] == ap_rows(vp_sim, batch)[0]["Voucher"]


def test_a_lost_answer_to_post_trans_file_is_read_from_the_ledger(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.drop(path="/DataEntry/PostTransFile", after_processing=True)
    drop_invoice(cleo_sim, "lost.edi", "SF-300", interchange=41, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-300")
    assert document.state == DocumentState.POSTED and document.external_ids["vantagepoint"]["already_posted"]
    assert len(vp_sim.requests_to("/DataEntry/PostTransFile", "PUT")) == 1, "never sent a second time"
    assert len(our_batches(vp_sim, document)) == 1


def test_vantagepoint_unavailable_retries_later_into_the_same_batch_and_period(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.fail(503, path="/DataEntry/PostTransFile", times=10)
    drop_invoice(cleo_sim, "busy.edi", "SF-400", interchange=51, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-400")
    assert document.state == DocumentState.RETRYING and document.step == "post"
    posting = document.effects.get(name="post")
    vp_sim.faults.clear()
    assert documents_retry_due(now=timezone.now() + timedelta(days=1)) == 1

    document.refresh_from_db()
    assert document.state == DocumentState.POSTED and document.external_ids["vantagepoint"]["batch"] == posting.key
    assert document.effects.get(name="post").intent == posting.intent, "the period fixed at the first try"
    assert [b.period for b in our_batches(vp_sim, document)] == [posting.intent["period"]]


def test_the_voucher_adds_up_to_the_invoice_with_phase_task_and_charges(edi_tenant, partner, cleo_sim, vp_sim):
    """The Ariba sample after mapping: two lines, and the freight on top as a third line."""
    for kind, source, target, wbs2, wbs3 in (
            (MappingKind.VENDOR, "ZZ:ABCMUSICSUPPLY", "V90002", "", ""),
            (MappingKind.PROJECT, "DO091003", "2023003.00", "01", "001")):
        MappingOverride.objects.create(tenant=edi_tenant, kind=kind, source_value=source, target=target,
                                       target_wbs2=wbs2, target_wbs3=wbs3)
    sample = next(p for p in sample_files() if p.name.startswith("03_"))
    cleo_sim.put_file("Inbound", sample.name, sample.read_bytes())
    run = poll(edi_tenant)

    document = document_for(edi_tenant, "DO091003TESTINV01")
    assert document.state == DocumentState.POSTED, document.last_error
    rows = ap_rows(vp_sim, document.external_ids["vantagepoint"]["batch"])
    assert [(r["WBS1"], r["WBS2"], r["WBS3"], r["Account"], r["Amount"]) for r in rows] == [
        ("2023003.00", "01", "001", "5010.00", Decimal("199.98")),
        ("2023003.00", "01", "001", "5010.00", Decimal("159.98")),
        ("2023003.00", "01", "001", "5010.00", Decimal("6.00")),
    ]
    assert rows[2]["Description"] == "Charges, allowances and taxes" and rows[0]["Description"] == "Power Cord"
    assert {(r["Vendor"], r["PONumber"]) for r in rows} == {("V90002", "DO091003")}
    assert run.status == SyncRunStatus.SUCCEEDED


def test_a_replay_of_a_posted_document_is_refused(edi_tenant, partner, cleo_sim, vp_sim):
    from connector.replay import ReplayRefused

    drop_invoice(cleo_sim, "once.edi", "SF-500", interchange=61, po="2023001.00")
    poll(edi_tenant)
    document = document_for(edi_tenant, "SF-500")
    with pytest.raises(ReplayRefused):
        document_replay(document, user=None)
