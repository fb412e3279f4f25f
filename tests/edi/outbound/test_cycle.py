"""The ar-810 cycle end to end against both simulators: what reaches the partner's folder,
once, valid, whatever the network and the worker do in between."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connector.models import Document, DocumentState, EffectState, SyncRunStatus, Trigger
from connector.pipeline import document_process
from connector.replay import ReplayRefused, document_replay, documents_retry_due
from connector.schedules import schedules_ensure_for_tenant
from connector.sync import cursor_read, sync_run_execute
from connector.vantagepoint.records import format_datetime
from edi.outbound import AR_810
from edi.x12 import parse_text

from .conftest import CURSOR, OUTBOUND, WorkerKilled, first_client_project, outbound_files, run_cycle, x12_validate


def documents(state=None):
    qs = Document.objects.filter(flow=AR_810).order_by("pk")
    return list(qs.filter(state=state) if state else qs)


def seeded_keys(vp_sim, client_id) -> set[str]:
    return {f"{r['Invoice']}:{r['Period']}:{r['PostSeq']}" for r in vp_sim.ledger("IN")
            if r["BillingClientID"] == client_id}


def post_invoices(vp_sim, count: int, **kwargs) -> list[dict]:
    wbs1 = first_client_project(vp_sim)["WBS1"]
    posted = []
    for _ in range(count):
        vp_sim.clock.advance(60)
        posted.append(vp_sim.add_posted_invoice(wbs1=wbs1, **kwargs))
    return posted


def test_a_cycle_sends_every_invoice_of_a_partner_client_once_as_a_valid_810(
        edi_tenant, vp_sim, cleo_sim, partner, billed_client, tmp_path):
    expected = seeded_keys(vp_sim, billed_client)
    everything = {f"{i}:{p}:{s}" for i, p, s in vp_sim.invoice_keys()}
    assert 0 < len(expected) < len(everything)

    run = run_cycle(edi_tenant)

    sent = documents(DocumentState.SENT)
    assert {d.external_key for d in sent} == expected
    files = outbound_files(cleo_sim)
    assert set(files) == {d.artifact_name for d in sent}, "one file per invoice, under the name saved first"
    for document in sent:
        content = files[document.artifact_name]
        assert content == document.artifact.encode()
        checked = x12_validate(tmp_path, document.artifact_name, content)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        invoice = parse_text(content.decode()).invoices[0]
        assert f"{invoice.invoice_number}:" in document.external_key + ":"
        assert (int(invoice.source.group_control), int(invoice.source.set_control)) == (
            document.external_ids["gs06"], document.external_ids["st02"])
        assert document.external_ids["cleo_file_id"] in {f.id for f in cleo_sim.files(OUTBOUND)}
        assert document.mapped["partner"]["id"] == partner.pk
    assert len({d.external_ids["isa13"] for d in sent}) == len(sent), "control numbers never repeat"

    parked = documents(DocumentState.NEEDS_MAPPING)
    assert len(parked) == len(everything) - len(expected), "no invoice is dropped"
    assert all("has no trading partner" in d.last_error for d in parked)
    assert run.counts == {"seen": len(everything), "new": len(everything), "duplicate": 0, "queued": len(everything),
                          "sent": len(expected), "needs_mapping": len(parked)}
    last_posting = max(r["PostDate"] for r in vp_sim.ledger("IN"))
    assert cursor_read(tenant=edi_tenant, stream=CURSOR) == format_datetime(last_posting) == run.cursor_after


def test_a_second_cycle_and_a_replay_of_a_sent_document_upload_nothing_new(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 2)
    run_cycle(edi_tenant)
    files = outbound_files(cleo_sim)
    uploads = len(cleo_sim.calls_to(path_contains="/files", method="POST"))
    assert len(files) == 2 and uploads == 2

    second = run_cycle(edi_tenant)
    assert second.counts["new"] == 0 and second.counts.get("sent", 0) == 0
    assert second.counts["duplicate"] == second.counts["seen"] >= 1, "the lookback re-reads, the key dedupes"

    document = documents(DocumentState.SENT)[0]
    with pytest.raises(ReplayRefused, match="nothing to resume"):
        document_replay(document, user=None)
    # Even forced back to the upload step, it does not send again: the upload is a confirmed effect.
    document_process(document, trigger=Trigger.MANUAL, from_step="upload")
    upload = document.effects.get(name="upload")
    assert document.state == DocumentState.SENT and (upload.state, upload.calls) == (EffectState.CONFIRMED, 1)
    assert document.external_ids["cleo_file_id"] == upload.result["cleo_file_id"]

    assert outbound_files(cleo_sim) == files
    assert len(cleo_sim.calls_to(path_contains="/files", method="POST")) == uploads


def test_a_worker_that_dies_after_the_upload_leaves_one_file_after_the_next_cycle(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, worker_dies_after_upload):
    post_invoices(vp_sim, 1)
    with pytest.raises(WorkerKilled):
        run_cycle(edi_tenant)
    (document,) = documents()
    assert (document.state, document.step) == (DocumentState.MAPPED, "upload")
    upload = document.effects.get(name="upload")
    assert (upload.key, upload.state) == (document.artifact_name, EffectState.UNKNOWN), "declared before the upload"
    assert len(outbound_files(cleo_sim)) == 1

    worker_dies_after_upload()  # revive: the next worker lives
    run = run_cycle(edi_tenant)
    document.refresh_from_db()
    assert document.state == DocumentState.SENT and document.effects.get(name="upload").confirmed_by == "look"
    assert run.counts["sent"] == 1
    assert list(outbound_files(cleo_sim)) == [document.artifact_name]


def test_an_upload_whose_answer_is_lost_is_found_rather_than_sent_again(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1)
    cleo_sim.fail_next("drop_after_processing", method="POST", path_contains="/files")
    run_cycle(edi_tenant)
    (document,) = documents()
    assert document.state == DocumentState.SENT and document.external_ids["found_in_folder"] is True
    assert list(outbound_files(cleo_sim)) == [document.artifact_name]


def test_an_upload_whose_outcome_stays_unknown_retries_later_and_still_sends_one_file(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1)
    cleo_sim.fail_next("timeout_after_processing", method="POST", path_contains="/files")
    # ...and the folder cannot be read to find out: the outcome stays unknown.
    folder_id = cleo_sim.folder(OUTBOUND).id
    cleo_sim.fail_next("503", method="GET", path_contains=f"/folders/{folder_id}/files", times=50)
    run = run_cycle(edi_tenant)
    (document,) = documents()
    assert document.state == DocumentState.RETRYING and document.step == "upload", document.last_error
    assert run.counts["retrying"] == 1
    assert len(outbound_files(cleo_sim)) == 1

    cleo_sim.faults.clear()
    assert documents_retry_due(now=timezone.now() + timedelta(days=1)) == 1
    document.refresh_from_db()
    assert document.state == DocumentState.SENT and document.external_ids["found_in_folder"] is True
    assert list(outbound_files(cleo_sim)) == [document.artifact_name]


def test_429s_and_tokens_expiring_mid_run_change_nothing_in_the_result(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, tmp_path):
    post_invoices(vp_sim, 5)
    cleo_sim.set_rate_limit(1)  # the client paces for 5 a second: Cleo answers 429s
    vp_sim.faults.call(vp_sim.expire_access_tokens, path="/firm", skip=2)
    vp_sim.faults.call(cleo_sim.expire_tokens, path="/project", skip=2)
    vp_grants = len(vp_sim.grants)

    run = run_cycle(edi_tenant)

    assert cleo_sim.rejected() > 0, "Cleo did refuse some requests"
    assert len(vp_sim.grants) > vp_grants + 1, "Vantagepoint's token was renewed mid-run"
    assert len(cleo_sim.calls_to(path_contains="/authentication", method="POST")) > 1, "so was Cleo's"
    sent = documents(DocumentState.SENT)
    assert len(sent) == 5 and run.counts["sent"] == 5 and run.counts.get("retrying", 0) == 0
    files = outbound_files(cleo_sim)
    assert set(files) == {d.artifact_name for d in sent}
    for document in sent:
        assert files[document.artifact_name] == document.artifact.encode()
        assert x12_validate(tmp_path, document.artifact_name, files[document.artifact_name]).returncode == 0


def test_an_invoice_x12_cannot_carry_fails_naming_the_field_before_any_file_or_number(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1, invoice="INV-2024-0000000000000042")
    run = run_cycle(edi_tenant)
    (document,) = documents()
    assert document.state == DocumentState.FAILED and document.failure_kind == "data"
    assert "BIG02 invoice number 'INV-2024-0000000000000042' is 25 characters" in document.last_error
    assert document.step == "map" and run.counts["failed"] == 1
    assert outbound_files(cleo_sim) == {}
    partner.refresh_from_db()
    assert partner.last_interchange_control == 0, "no control number is spent on it"


def test_a_credit_memo_goes_out_with_big07_cr(edi_tenant, vp_sim, cleo_sim, partner, after_seed, tmp_path):
    post_invoices(vp_sim, 1, lines=[{"Description": "Credit for overbilled hours", "Quantity": Decimal("-6"),
                                     "UnitPrice": Decimal("150.00")}])
    run_cycle(edi_tenant)
    (document,) = documents(DocumentState.SENT)
    content = outbound_files(cleo_sim)[document.artifact_name]
    assert x12_validate(tmp_path, "credit.edi", content).returncode == 0
    invoice = parse_text(content.decode()).invoices[0]
    assert invoice.is_credit_memo and invoice.total_stated == Decimal("900.00")


def test_a_worker_that_dies_between_receiving_and_processing_is_resumed_by_the_next_cycle(
        edi_tenant, vp_sim, cleo_sim, partner, after_seed, monkeypatch):
    post_invoices(vp_sim, 3)
    from connector import work

    def die(*args, **kwargs):
        raise WorkerKilled

    monkeypatch.setattr(work, "document_process", die)
    with pytest.raises(WorkerKilled):
        run_cycle(edi_tenant)
    assert {d.state for d in documents()} == {DocumentState.RECEIVED}
    assert len(documents()) == 3 and outbound_files(cleo_sim) == {}

    monkeypatch.setattr(work, "document_process", document_process)
    run = run_cycle(edi_tenant)
    assert run.counts["new"] == 0 and run.counts["sent"] == 3
    assert len(outbound_files(cleo_sim)) == 3


def test_the_cursor_moves_only_past_committed_documents(edi_tenant, vp_sim, cleo_sim, partner, after_seed,
                                                        monkeypatch):
    post_invoices(vp_sim, 3)
    before = cursor_read(tenant=edi_tenant, stream=CURSOR)
    from connector import cursors

    receive = cursors.documents_receive

    def database_goes_away(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(cursors, "documents_receive", database_goes_away)
    failed = sync_run_execute(tenant=edi_tenant, flow_name=AR_810, trigger=Trigger.SCHEDULED, inline=True)
    assert failed.status == SyncRunStatus.FAILED and "database went away" in failed.error
    assert cursor_read(tenant=edi_tenant, stream=CURSOR) == before
    assert len(documents()) == 0, "a page's documents are committed together, or not at all"

    monkeypatch.setattr(cursors, "documents_receive", receive)
    run = run_cycle(edi_tenant)
    assert run.counts["new"] == 3 and len(documents(DocumentState.SENT)) == 3
    assert cursor_read(tenant=edi_tenant, stream=CURSOR) > before


def test_manage_py_sync_runs_one_cycle_and_prints_its_summary(edi_tenant, vp_sim, cleo_sim, partner, billed_client):
    out = StringIO()
    call_command("sync", AR_810, "--tenant", edi_tenant.slug, stdout=out)
    total = len(vp_sim.invoice_keys())
    sent = len(seeded_keys(vp_sim, billed_client))
    lines = out.getvalue().splitlines()
    assert lines[0] == (f"ar-810 for {edi_tenant.slug}: Succeeded — duplicate 0, "
                        f"needs_mapping {total - sent}, new {total}, queued {total}, seen {total}, sent {sent}")
    assert lines[1].startswith("cursor: (start) → 2024-")
    assert len(outbound_files(cleo_sim)) == sent


def test_the_tenant_gets_a_schedule_for_the_flow_once_both_connections_are_enabled(edi_tenant):
    schedules_ensure_for_tenant(edi_tenant)
    task = PeriodicTask.objects.get(name=f"{AR_810} for {edi_tenant.slug}")
    assert task.enabled and f'"flow": "{AR_810}"' in task.kwargs
