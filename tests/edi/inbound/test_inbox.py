"""The inbox: raw bytes first, every file once, a 997 per interchange, pickup per partner, and a
run that fails half-way resumed at the stage it reached."""
from __future__ import annotations

import pytest

from connector.models import AuditEvent, Document, DocumentState, SyncRunStatus
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.inbox import inbox_collect
from edi.models import AfterPickup, InboundFile, InboundFileStatus
from edi.outbound import AR_810
from sandbox.cleo import FaultKind

from .conftest import SNACKS_SENDER, acks_sent, documents, ledger, poll, sample_files

pytestmark = pytest.mark.django_db

SAMPLE_01 = "01_staedi_simple810_2ST.edi"


def sample_bytes(name: str) -> bytes:
    return next(p for p in sample_files() if p.name == name).read_bytes()


def snack_file(number: str, *, interchange: int, po: str = "2023001.00") -> bytes:
    return supplier_interchange([supplier_invoice(number, po=po)], interchange=interchange, sender_id=SNACKS_SENDER)


def test_the_raw_bytes_are_kept_exactly_as_received(edi_tenant, partner, cleo_sim):
    content = sample_bytes("13_oopfactory_adobe_newline.txt")  # a BOM and newlines as terminators
    cleo_sim.put_file("Inbound", "adobe.txt", content)
    poll(edi_tenant)

    entry = ledger(edi_tenant, "adobe.txt")
    assert bytes(entry.raw) == content and entry.size == len(content)
    assert entry.cleo_file_id and entry.partner == partner


def test_the_same_bytes_under_a_new_name_are_recognised_and_not_acknowledged_again(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", "first.edi", sample_bytes(SAMPLE_01))
    cleo_sim.put_file("Inbound", "resent-by-partner.edi", sample_bytes(SAMPLE_01))
    run = poll(edi_tenant)

    first, again = ledger(edi_tenant, "first.edi"), ledger(edi_tenant, "resent-by-partner.edi")
    assert (first.status, again.status) == (InboundFileStatus.IMPORTED, InboundFileStatus.SAME_CONTENT)
    assert again.same_as == first and "the same bytes as Inbound/first.edi" in again.note
    assert again.ack_file_name == "" and run.counts["997_sent"] == 1
    assert again.picked_up and cleo_sim.file_names("Inbound") == []
    assert len(documents(edi_tenant)) == 2, "the two invoices of the first file, once"


def test_a_file_that_is_not_x12_is_kept_marked_and_picked_up(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", "readme.txt", b"Please find our invoices attached.\r\n")
    run = poll(edi_tenant)

    entry = ledger(edi_tenant, "readme.txt")
    assert entry.status == InboundFileStatus.MALFORMED and entry.note.startswith("not X12, kept as received:")
    assert bytes(entry.raw) == b"Please find our invoices attached.\r\n"
    assert entry.ack_text == "" and cleo_sim.file_names("Outbound") == [], "nothing to address a 997 to"
    assert entry.picked_up and run.status == SyncRunStatus.SUCCEEDED and documents(edi_tenant) == []


def test_a_file_whose_pickup_failed_is_picked_up_next_time_without_reimport(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    cleo_sim.fail_next(FaultKind.UNAVAILABLE_503, method="DELETE", times=5)  # every try of the policy
    failed = poll(edi_tenant)

    assert failed.status == SyncRunStatus.FAILED and f"Inbound/{SAMPLE_01}" in failed.error
    entry = ledger(edi_tenant, SAMPLE_01)
    assert entry.status == InboundFileStatus.IMPORTED and entry.ack_uploaded and not entry.picked_up
    assert cleo_sim.file_names("Inbound") == [SAMPLE_01]
    assert AuditEvent.objects.filter(tenant=edi_tenant, action="inbox_problem").exists()
    keys = [d.external_key for d in documents(edi_tenant)]

    resumed = poll(edi_tenant)
    assert resumed.status == SyncRunStatus.SUCCEEDED
    assert resumed.counts["resumed"] == 1 and "new" not in resumed.counts and "997_sent" not in resumed.counts
    assert cleo_sim.file_names("Inbound") == [] and ledger(edi_tenant, SAMPLE_01).picked_up
    assert [d.external_key for d in documents(edi_tenant)] == keys
    assert len(cleo_sim.files("Outbound")) == 1, "the 997 went out once"


def test_a_997_that_could_not_be_uploaded_is_sent_once_on_the_next_poll(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    cleo_sim.fail_next(FaultKind.UNAVAILABLE_503, method="POST", path_contains="/files", times=20)
    failed = poll(edi_tenant)

    entry = ledger(edi_tenant, SAMPLE_01)
    assert failed.status == SyncRunStatus.FAILED
    assert entry.ack_file_name and not entry.ack_uploaded and not entry.picked_up, \
        "named before the upload; the file stays in Cleo until its 997 is out"
    name = entry.ack_file_name

    poll(edi_tenant)
    entry.refresh_from_db()
    assert entry.ack_uploaded and entry.picked_up and entry.ack_file_name == name
    assert [f.name for f in cleo_sim.files("Outbound")] == [name]


def test_moved_to_the_archive_folder_when_the_partner_says_so(edi_tenant, partner, cleo_sim):
    partner.after_pickup, partner.archive_folder = AfterPickup.MOVE, "Inbound Processed"
    partner.save()
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    poll(edi_tenant)

    assert cleo_sim.file_names("Inbound") == [] and cleo_sim.file_names("Inbound Processed") == [SAMPLE_01]
    again = poll(edi_tenant)
    assert again.counts.get("seen", 0) == 0, "the archive is not polled"


def test_a_partner_reusing_a_file_name_has_its_new_file_imported(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", "invoice.edi", snack_file("SF-1", interchange=501))
    poll(edi_tenant)
    cleo_sim.put_file("Inbound", "invoice.edi", snack_file("SF-2", interchange=502))
    poll(edi_tenant)

    numbers = sorted(d.mapped["invoice"]["invoice_number"] for d in documents(edi_tenant))
    assert numbers == ["SF-1", "SF-2"]
    names = sorted(InboundFile.objects.filter(tenant=edi_tenant).values_list("name", flat=True))
    assert names[0] == "invoice.edi" and names[1].startswith("invoice.edi [")


def test_each_interchange_of_a_file_gets_its_own_997(edi_tenant, partner, cleo_sim):
    content = snack_file("SF-10", interchange=601) + snack_file("SF-11", interchange=602)
    cleo_sim.put_file("Inbound", "two-interchanges.edi", content)
    poll(edi_tenant)

    entry = ledger(edi_tenant, "two-interchanges.edi")
    assert entry.ack_text.count("ISA*00*") == 2 and entry.ack_text.count("IEA*1*") == 2
    assert {(r.group_control, r.status) for r in acks_sent(cleo_sim, entry)} == {("601", "A"), ("602", "A")}
    partner.refresh_from_db()
    assert partner.last_interchange_control == 2, "one ISA13 each, from the partner's counter"


def test_a_test_interchange_to_a_production_partner_is_acknowledged_but_not_imported(edi_tenant, partner, cleo_sim):
    partner.production = True
    partner.save()
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))  # ISA15 T
    poll(edi_tenant)

    entry = ledger(edi_tenant, SAMPLE_01)
    assert documents(edi_tenant) == [] and entry.status == InboundFileStatus.NO_INVOICES
    assert "a test interchange (ISA15 T) to a production partner" in entry.note
    assert {r.status for r in acks_sent(cleo_sim, entry)} == {"A"}


def test_a_partners_997_goes_to_the_outbound_flow_and_is_not_acknowledged(edi_tenant, partner, cleo_sim):
    sent = Document.objects.create(tenant=edi_tenant, flow=AR_810, external_key="INV-7:202406:3",
                                   state=DocumentState.SENT, external_ids={"partner_id": partner.pk, "gs06": 5,
                                                                           "st02": 7})
    reply = ("ISA*00*          *00*          *ZZ*SENDERISA      *ZZ*RECEIVERISA    *240610*0930*U*00401*000000077*0*T*>~"
             "GS*FA*SENDERDEPT*007326879*20240610*0930*77*X*004010~ST*997*0001~AK1*IN*5~AK2*810*0007~AK5*A~"
             "AK9*A*1*1*1~SE*6*0001~GE*1*77~IEA*1*000000077~")
    cleo_sim.put_file("Inbound", "997_from_snacks.edi", reply.encode())
    run = poll(edi_tenant)

    sent.refresh_from_db()
    entry = ledger(edi_tenant, "997_from_snacks.edi")
    assert sent.state == DocumentState.ACKNOWLEDGED
    assert entry.status == InboundFileStatus.ACKNOWLEDGMENT and "1 acknowledged" in entry.note
    assert entry.ack_text == "" and cleo_sim.file_names("Outbound") == [], "a 997 is never acknowledged"
    assert entry.picked_up and run.counts["acknowledgments"] == 1 and documents(edi_tenant) == []


def test_inbox_collect_is_the_shared_entry_point_and_returns_counts(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    counts = inbox_collect(tenant=edi_tenant, trigger="scheduled")

    assert counts["new"] == 1 and counts["invoices_new"] == 2 and counts["997_sent"] == 1
    assert {d.state for d in documents(edi_tenant)} == {DocumentState.RECEIVED}, "processed by the 810-ap cycle"


def test_a_truncated_file_imports_nothing_and_its_997_rejects_the_group(edi_tenant, partner, cleo_sim):
    two_sets = supplier_interchange([supplier_invoice("SF-21", po="2023001.00"), supplier_invoice("SF-22", po="X")],
                                    interchange=702, sender_id=SNACKS_SENDER).decode()
    cut = two_sets[: two_sets.index("BIG*", two_sets.index("ST*810*0002"))]  # the upload broke off in set 2
    cleo_sim.put_file("Inbound", "cut.edi", cut.encode())
    poll(edi_tenant)

    entry = ledger(edi_tenant, "cut.edi")
    assert entry.status == InboundFileStatus.MALFORMED
    assert "810 set 0001 invoice SF-21: rejected in our 997, not imported: its group was rejected: " in entry.note
    assert "group 702 has no GE" in entry.note
    assert documents(edi_tenant) == [], "the complete first set is not imported from a broken group"
    results = acks_sent(cleo_sim, entry)
    assert {r.group_status for r in results} == {"R"} and "3" in results[0].group_codes


def test_a_bare_transaction_set_is_answered_in_the_partners_own_envelope(edi_tenant, partner, cleo_sim):
    text = snack_file("SF-30", interchange=801).decode()
    bare = text[text.index("ST*810"): text.index("GE*")]
    cleo_sim.put_file("Inbound", "bare.edi", bare.encode())
    poll(edi_tenant)

    (document,) = documents(edi_tenant)
    entry = ledger(edi_tenant, "bare.edi")
    assert document.external_key == f"ZZ:{SNACKS_SENDER}/bare:{entry.content_hash[:16]}/1/SF-30"
    assert document.state == DocumentState.POSTED, document.last_error
    assert document.raw.startswith("ST*810*0001~") and document.raw.endswith("SE*9*0001~")
    assert f"*ZZ*RECEIVERISA    *ZZ*{SNACKS_SENDER}" in entry.ack_text, "our ids from the partner agreement"
    assert [r.status for r in acks_sent(cleo_sim, entry)] == ["A"]


def test_a_set_control_number_with_a_superscript_is_kept_as_text_in_the_key(edi_tenant, partner, cleo_sim):
    """ST02 is alphanumeric, so '0001²' is accepted; reading it as a number must not raise."""
    text = snack_file("SF-40", interchange=901).decode().replace("ST*810*0001~", "ST*810*0001²~")
    cleo_sim.put_file("Inbound", "superscript.edi", text.replace("SE*9*0001~", "SE*9*0001²~").encode())
    run = poll(edi_tenant)

    (document,) = documents(edi_tenant)
    assert document.external_key == f"ZZ:{SNACKS_SENDER}/901/901/0001²/SF-40", run.counts
    assert ledger(edi_tenant, "superscript.edi").status == InboundFileStatus.IMPORTED
