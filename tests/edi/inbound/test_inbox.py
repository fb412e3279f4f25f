"""The inbox: raw bytes first, every file once, a 997 per interchange, pickup per partner, and a
file whose stage failed resumed at that stage."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connector.models import AuditEvent, Document, DocumentState, EffectState, SyncRunStatus, Trigger
from connector.queue import queue_held
from connector.replay import documents_retry_due
from connector.sync import sync_run_execute
from connector.work import document_work
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.inbox import INBOX
from edi.models import AfterPickup, InboundFile, InboundFileStatus, OutboundControl
from edi.outbound import AR_810
from sandbox.cleo import FaultKind

from .conftest import SNACKS_SENDER, ack_effect, acks_sent, documents, ledger, picked_up, poll, sample_files

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
    assert again.document.artifact_name == "" and ack_effect(again) is None and run.counts["997_sent"] == 1
    assert picked_up(again) and cleo_sim.file_names("Inbound") == []
    assert len(documents(edi_tenant)) == 2, "the two invoices of the first file, once"


def test_a_file_that_is_not_x12_is_kept_marked_and_picked_up(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", "readme.txt", b"Please find our invoices attached.\r\n")
    run = poll(edi_tenant)

    entry = ledger(edi_tenant, "readme.txt")
    assert entry.status == InboundFileStatus.MALFORMED and entry.note.startswith("not X12, kept as received:")
    assert bytes(entry.raw) == b"Please find our invoices attached.\r\n"
    assert entry.document.artifact == "" and cleo_sim.file_names("Outbound") == [], "nothing to address a 997 to"
    assert picked_up(entry) and run.status == SyncRunStatus.SUCCEEDED and documents(edi_tenant) == []


def test_a_file_whose_pickup_failed_is_picked_up_on_its_retry_without_reimport(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    cleo_sim.fail_next(FaultKind.UNAVAILABLE_503, method="DELETE", times=5)  # every try of the policy
    run = poll(edi_tenant)

    entry = ledger(edi_tenant, SAMPLE_01)
    file_document = entry.document
    assert (file_document.state, file_document.step) == (DocumentState.RETRYING, "pick_up")
    assert file_document.source == f"Inbound/{SAMPLE_01}" and "503" in file_document.last_error
    assert run.counts["files_retrying"] == 1
    assert entry.status == InboundFileStatus.IMPORTED and ack_effect(entry).state == EffectState.CONFIRMED
    assert not picked_up(entry) and cleo_sim.file_names("Inbound") == [SAMPLE_01]
    assert AuditEvent.objects.filter(document=file_document, action="retry_scheduled").exists()
    keys = [d.external_key for d in documents(edi_tenant)]

    assert documents_retry_due(now=timezone.now() + timedelta(days=1)) == 1
    file_document.refresh_from_db()
    assert file_document.state == DocumentState.DONE
    assert [a.step for a in file_document.attempts.filter(trigger=Trigger.RETRY)] == ["pick_up"], \
        "resumed at the pickup: nothing downloaded, read or acknowledged again"
    assert cleo_sim.file_names("Inbound") == [] and picked_up(ledger(edi_tenant, SAMPLE_01))
    assert [d.external_key for d in documents(edi_tenant)] == keys
    assert len(cleo_sim.files("Outbound")) == 1, "the 997 went out once"


def test_a_997_that_could_not_be_uploaded_is_sent_once_on_its_retry(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    cleo_sim.fail_next(FaultKind.UNAVAILABLE_503, method="POST", path_contains="/files", times=20)
    poll(edi_tenant)

    entry = ledger(edi_tenant, SAMPLE_01)
    assert (entry.document.state, entry.document.step) == (DocumentState.RETRYING, "acknowledge")
    upload = ack_effect(entry)
    assert upload.key == entry.document.artifact_name and upload.state == EffectState.INTENDED, \
        "named before the upload, and known not to have happened"
    assert not picked_up(entry) and cleo_sim.file_names("Inbound") == [SAMPLE_01], \
        "the file stays in Cleo until its 997 is out"
    name = upload.key

    assert documents_retry_due(now=timezone.now() + timedelta(days=1)) == 1
    entry.refresh_from_db()
    assert ack_effect(entry).state == EffectState.CONFIRMED and picked_up(entry)
    assert entry.document.artifact_name == name and [f.name for f in cleo_sim.files("Outbound")] == [name]


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
    files = list(InboundFile.objects.filter(tenant=edi_tenant).values_list("name", "cleo_file_id"))
    assert [name for name, _ in files] == ["invoice.edi", "invoice.edi"], "two files: each is its own Cleo id"
    assert len({cleo_id for _, cleo_id in files}) == 2


def test_each_interchange_of_a_file_gets_its_own_997(edi_tenant, partner, cleo_sim):
    content = snack_file("SF-10", interchange=601) + snack_file("SF-11", interchange=602)
    cleo_sim.put_file("Inbound", "two-interchanges.edi", content)
    poll(edi_tenant)

    entry = ledger(edi_tenant, "two-interchanges.edi")
    ack_text = entry.document.artifact
    assert ack_text.count("ISA*00*") == 2 and ack_text.count("IEA*1*") == 2
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
    OutboundControl.objects.create(tenant=edi_tenant, partner=partner, document=sent, interchange=5, group=5,
                                   set_control=7)
    reply = ("ISA*00*          *00*          *ZZ*SENDERISA      *ZZ*RECEIVERISA    *240610*0930*U*00401*000000077*0*T*>~"
             "GS*FA*SENDERDEPT*007326879*20240610*0930*77*X*004010~ST*997*0001~AK1*IN*5~AK2*810*0007~AK5*A~"
             "AK9*A*1*1*1~SE*6*0001~GE*1*77~IEA*1*000000077~")
    cleo_sim.put_file("Inbound", "997_from_snacks.edi", reply.encode())
    run = poll(edi_tenant)

    sent.refresh_from_db()
    entry = ledger(edi_tenant, "997_from_snacks.edi")
    assert sent.state == DocumentState.ACKNOWLEDGED
    assert entry.status == InboundFileStatus.ACKNOWLEDGMENT and "1 acknowledged" in entry.note
    assert entry.document.artifact == "" and cleo_sim.file_names("Outbound") == [], "a 997 is never acknowledged"
    assert picked_up(entry) and run.counts["acknowledgments"] == 1 and documents(edi_tenant) == []


def test_the_inbox_queues_each_file_and_then_each_invoice_for_any_worker(edi_tenant, partner, cleo_sim):
    cleo_sim.put_file("Inbound", SAMPLE_01, sample_bytes(SAMPLE_01))
    with queue_held() as queued:  # what the broker would carry to the workers
        run = sync_run_execute(tenant=edi_tenant, flow_name=INBOX, trigger=Trigger.SCHEDULED)
        (file_task,) = list(queued)
        queued.clear()
        # A worker takes the file's task: it reads the file, answers it, and queues its invoices.
        assert document_work(document_id=file_task.document_id, trigger=file_task.trigger) == DocumentState.DONE
        invoice_tasks = list(queued)

    assert {task.document_id for task in invoice_tasks} == {d.pk for d in documents(edi_tenant)}
    assert {d.state for d in documents(edi_tenant)} == {DocumentState.RECEIVED}, "each left to an 810-ap worker"
    run.refresh_from_db()
    assert run.status == SyncRunStatus.SUCCEEDED
    assert (run.counts["new"], run.counts["invoices_new"], run.counts["997_sent"], run.counts["files_done"]) == (1, 2, 1, 1)
    assert run.counts["queued"] == 3, "one file, then its two invoices"


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
    assert f"*ZZ*RECEIVERISA    *ZZ*{SNACKS_SENDER}" in entry.document.artifact, "our ids from the partner agreement"
    assert [r.status for r in acks_sent(cleo_sim, entry)] == ["A"]


class WorkerKilled(BaseException):
    """The worker dies: nothing after this point runs or is committed."""


def test_a_new_file_under_the_name_of_one_whose_pickup_answer_was_lost_is_imported(
        edi_tenant, partner, cleo_sim, monkeypatch):
    """The lost supplier file: Cleo moved ACME_810.edi, the worker died before recording it,
    and the partner then dropped a new ACME_810.edi. The new file is its own file (its own
    Cleo id): imported, posted and acknowledged, not taken for the old one resumed."""
    from edi.cleo import CleoClient
    from edi.x12 import read_997

    from .conftest import document_for

    partner.after_pickup, partner.archive_folder = AfterPickup.MOVE, "Inbound Processed"
    partner.save()
    cleo_sim.put_file("Inbound", "ACME_810.edi", snack_file("SF-1", interchange=901))
    move = CleoClient.move_file

    def move_then_die(self, *args, **kwargs):
        move(self, *args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(CleoClient, "move_file", move_then_die)
    with pytest.raises(WorkerKilled):
        poll(edi_tenant)
    monkeypatch.setattr(CleoClient, "move_file", move)
    assert cleo_sim.file_names("Inbound") == [] and cleo_sim.file_names("Inbound Processed") == ["ACME_810.edi"]

    cleo_sim.put_file("Inbound", "ACME_810.edi", snack_file("SF-2", interchange=902))
    poll(edi_tenant)

    assert document_for(edi_tenant, "SF-2").state == DocumentState.POSTED
    assert document_for(edi_tenant, "SF-1").state == DocumentState.POSTED
    answered = {(r.group_control, r.status) for f in cleo_sim.files("Outbound") for r in read_997(f.content)}
    assert answered == {("901", "A"), ("902", "A")}, "each interchange acknowledged once"
    assert cleo_sim.file_names("Inbound") == []
    assert cleo_sim.file_names("Inbound Processed") == ["ACME_810.edi", "ACME_810.edi"]


def test_a_set_control_number_with_a_superscript_is_kept_as_text_in_the_key(edi_tenant, partner, cleo_sim):
    """ST02 is alphanumeric, so '0001²' is accepted; reading it as a number must not raise."""
    text = snack_file("SF-40", interchange=901).decode().replace("ST*810*0001~", "ST*810*0001²~")
    cleo_sim.put_file("Inbound", "superscript.edi", text.replace("SE*9*0001~", "SE*9*0001²~").encode())
    run = poll(edi_tenant)

    (document,) = documents(edi_tenant)
    assert document.external_key == f"ZZ:{SNACKS_SENDER}/901/901/0001²/SF-40", run.counts
    assert ledger(edi_tenant, "superscript.edi").status == InboundFileStatus.IMPORTED
