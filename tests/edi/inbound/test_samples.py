"""Every real partner file of tests/fixtures/x12-samples dropped into the simulated Cleo folder at once:
each 810 is posted or parked with the exact reason, other sets are skipped with a note, every
interchange gets its 997, and nothing comes in twice."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connector.models import DocumentState, EffectState, SyncRunStatus
from edi.models import InboundFileStatus, MappingKind, MappingOverride

from .conftest import ack_effect, acks_sent, ap_rows, documents, ledger, picked_up, poll, sample_files

pytestmark = pytest.mark.django_db

# invoice number (and which one, when a file repeats a number) → (state, the reason it is in)
EXPECTED_INVOICES = {
    ("00001", "A99999-01"): (DocumentState.POSTED, ""),
    ("00001", "A99999-04"): (DocumentState.NEEDS_MAPPING, "no project for PO A99999-04"),
    ("DO091003TESTINV01", "DO091003"): (
        DocumentState.NEEDS_MAPPING, "no vendor for sender ZZ:ABCMUSICSUPPLY; no project for PO DO091003"),
    ("DO091003TESTHDRINV01", None): (
        DocumentState.NEEDS_MAPPING, "no vendor for sender ZZ:ABCMUSICSUPPLY; no project for invoice "
                                     "DO091003TESTHDRINV01 from ZZ:ABCMUSICSUPPLY: it names no PO number or project "
                                     "REF, so map the sender to a project"),
    ("10429", None): (DocumentState.NEEDS_MAPPING, "no vendor for sender 30:943274043; no project for invoice 10429"),
    ("0013833070", "V8748745"): (
        DocumentState.NEEDS_MAPPING, "no vendor for sender 16:102096559TEST (ADOBE SYSTEMS INCORPORATED); "
                                     "no project for PO V8748745"),
    ("I-0042537", None): (DocumentState.NEEDS_MAPPING, "no vendor for sender 12:5141231234; no project for invoice"),
}
# file → (ledger status, 997 verdicts per (group, set), words the ledger note must hold)
EXPECTED_FILES = {
    "01_staedi_simple810_2ST.edi": (InboundFileStatus.IMPORTED, {("1", "000000001"): "A", ("1", "000000002"): "A"},
                                    ["810 set 000000001 invoice 00001: new document",
                                     "810 set 000000002 invoice 00001: new document"]),
    "02_staedi_810_850_2GS.edi": (InboundFileStatus.IMPORTED,
                                  {("1", "000000001"): "A", ("1", "000000002"): "A", ("165", "000191240"): "R"},
                                  ["810 set 000000001 invoice 00001: already received as document",
                                   "850 set 000191240: not an invoice (850): skipped"]),
    "03_edinet_810a_ariba.edi": (InboundFileStatus.IMPORTED, {("1", "0001"): "A"}, ["new document"]),
    "05_edinet_810c_ariba_hdr.edi": (InboundFileStatus.IMPORTED, {("1", "0001"): "A"}, ["new document"]),
    "10_oopfactory_caliso_negative.txt": (InboundFileStatus.IMPORTED, {("1", "0001"): "A"}, ["new document"]),
    "12_oopfactory_multiinvoice_00403.txt": (
        InboundFileStatus.MALFORMED, {("224", "2240001"): "R", ("224", "2240002"): "R"},
        ["810 set 2240001 invoice 465266: rejected in our 997, not imported",
         "TDS is out of sequence: it belongs before ISS"]),
    "13_oopfactory_adobe_newline.txt": (InboundFileStatus.IMPORTED, {("810000263", "166061414"): "A"},
                                        ["new document"]),
    "15_x12types_005010_edi2xml.edi": (InboundFileStatus.IMPORTED, {("1", "0001"): "A"}, ["new document"]),
}


@pytest.fixture
def all_samples_dropped(edi_tenant, partner, cleo_sim):
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.PROJECT, source_value="A99999-01",
                                   target="2023001.00")
    for path in sample_files():
        cleo_sim.put_file("Inbound", path.name, path.read_bytes())
    return [path.name for path in sample_files()]


def invoice_key(document) -> tuple[str, str | None]:
    invoice = document.mapped["invoice"]
    return invoice["invoice_number"], invoice["po_number"]


def test_every_sample_file_is_taken_in_acknowledged_and_removed(edi_tenant, all_samples_dropped, cleo_sim, vp_sim):
    assert set(all_samples_dropped) == set(EXPECTED_FILES), "a new sample needs its expectation here"
    run = poll(edi_tenant)

    assert run.status == SyncRunStatus.SUCCEEDED, run.error
    assert run.counts["seen"] == run.counts["new"] == run.counts["picked_up"] == len(EXPECTED_FILES)
    assert run.counts["997_sent"] == len(EXPECTED_FILES), "every file here carries an interchange to acknowledge"
    assert cleo_sim.file_names("Inbound") == [], "deleted after pickup, as the partner says"
    for name, (status, verdicts, note_words) in EXPECTED_FILES.items():
        entry = ledger(edi_tenant, name)
        assert entry.status == status, f"{name}: {entry.note}"
        assert picked_up(entry) and ack_effect(entry).state == EffectState.CONFIRMED
        for words in note_words:
            assert words in entry.note, f"{name}: {entry.note}"
        results = acks_sent(cleo_sim, entry)
        assert {(r.group_control, r.set_control): r.status for r in results} == verdicts, name


def test_each_invoice_is_posted_or_parked_with_the_exact_missing_item(edi_tenant, all_samples_dropped, vp_sim):
    poll(edi_tenant)

    found = {invoice_key(d): d for d in documents(edi_tenant)}
    assert set(found) == set(EXPECTED_INVOICES), "one document per accepted 810, none for the rejected file 12"
    for key, (state, reason) in EXPECTED_INVOICES.items():
        document = found[key]
        assert document.state == state, f"{key}: {document.last_error}"
        assert reason in document.last_error, f"{key}: {document.last_error}"
    posted = found[("00001", "A99999-01")]
    vantagepoint = posted.external_ids["vantagepoint"]
    rows = ap_rows(vp_sim, vantagepoint["batch"])
    assert {r["Voucher"] for r in rows} == {vantagepoint["voucher"]} and vantagepoint["post_seq"] == rows[0]["PostSeq"]
    assert sum(r["Amount"] for r in rows) == Decimal("2554.38") and {r["WBS1"] for r in rows} == {"2023001.00"}
    assert {(r["Vendor"], r["Invoice"], r["Account"]) for r in rows} == {("V90001", "00001", "5010.00")}


def test_polling_again_imports_nothing_new_and_resent_names_are_recognised(edi_tenant, all_samples_dropped,
                                                                           cleo_sim, vp_sim):
    poll(edi_tenant)
    before = [(d.pk, d.state) for d in documents(edi_tenant)]
    batches = len(vp_sim.posted_batches("AP"))

    again = poll(edi_tenant)
    assert again.counts.get("seen", 0) == 0 and again.counts.get("new", 0) == 0
    # The partner drops the very same files again, under the names it used before.
    for path in sample_files():
        cleo_sim.put_file("Inbound", path.name, path.read_bytes())
    third = poll(edi_tenant)

    assert third.counts["new"] == len(EXPECTED_FILES) and third.counts["same_content"] == len(EXPECTED_FILES)
    assert [(d.pk, d.state) for d in documents(edi_tenant)] == before, "no document created or moved"
    assert len(vp_sim.posted_batches("AP")) == batches
    assert cleo_sim.file_names("Inbound") == [], "picked up all the same"
