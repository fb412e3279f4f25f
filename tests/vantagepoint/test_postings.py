"""AP voucher and cash receipt batches: created, posted, and never posted twice."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connector.failures import ConfigFailure, DataFailure, TransientFailure
from connector.vantagepoint import (
    APVoucher,
    APVoucherBatch,
    APVoucherLine,
    CashReceiptBatch,
    CashReceiptEntry,
    CashReceiptLine,
    VantagepointClient,
    batch_name,
)
from sandbox.vantagepoint import FEES_HIDDEN_USERNAME

from .conftest import make_connection
from .simtools import Raw


def voucher_batch(key: str = "inbound-file-7:invoice-1", *, invoice: str = "ACME-1001", wbs1: str = "2023003.00",
                  wbs2: str = "01", wbs3: str = "002", period: int = 202406) -> APVoucherBatch:
    lines = (APVoucherLine(wbs1=wbs1, wbs2=wbs2, wbs3=wbs3, account="5010.00", amount=Decimal("1200.00"),
                           description="Survey crew"),
             APVoucherLine(wbs1=wbs1, wbs2=wbs2, wbs3=wbs3, account="5020.00", amount=Decimal("87.35"),
                           description="Mileage"))
    voucher = APVoucher(vendor="V90003", invoice=invoice, invoice_date=date(2024, 6, 12), lines=lines)
    return APVoucherBatch(name=batch_name("MLAP", key), period=period, vouchers=(voucher,))


def receipt_batch(sim, key: str = "evt_1") -> tuple[CashReceiptBatch, dict]:
    open_item = next(b for b in sim.tables.ar_balances if b["Balance"] > 100)
    line = CashReceiptLine(wbs1=open_item["WBS1"], invoice=open_item["Invoice"], amount=Decimal("100.00"))
    entry = CashReceiptEntry(ref_no="pi_3Nabc", trans_date=date(2024, 6, 14), lines=(line,))
    return CashReceiptBatch(name=batch_name("MLCR", key), period=202406, receipts=(entry,)), open_item


def ledger_rows(sim, kind: str, batch: str) -> list[dict]:
    return [r for r in sim.ledger(kind) if r["Batch"] == batch]


def test_batch_names_are_deterministic_per_document_and_fit_the_column():
    assert batch_name("MLAP", "doc-1") == batch_name("MLAP", "doc-1")
    assert batch_name("MLAP", "doc-1") != batch_name("MLAP", "doc-2")
    assert len(batch_name("MLAP", "x" * 500)) <= 32


def test_an_ap_voucher_batch_is_created_and_posted(client, sim):
    batch = voucher_batch()
    result = client.post_ap_voucher_batch(batch)
    rows = ledger_rows(sim, "AP", batch.name)
    assert not result.already_posted and result.transtype == "AP" and result.period == 202406
    assert result.post_seqs == (rows[0]["PostSeq"],) and result.vouchers == (rows[0]["Voucher"],)
    assert [(r["WBS2"], r["WBS3"], r["Amount"]) for r in rows] == [("01", "002", Decimal("1200.00")),
                                                                 ("01", "002", Decimal("87.35"))]
    assert rows[0]["LiabCode"] == "AP" and rows[0]["BankCode"] == "OPER"  # the connection's defaults
    found = client.ap_invoice("V90003", "ACME-1001")
    assert found is not None and found.total == Decimal("1287.35") and found.batch == batch.name


def test_posting_the_same_batch_twice_posts_once(client, sim):
    batch = voucher_batch()
    first = client.post_ap_voucher_batch(batch)
    second = client.post_ap_voucher_batch(batch)
    assert second.already_posted and second.post_seqs == first.post_seqs
    assert len(ledger_rows(sim, "AP", batch.name)) == 2
    assert len(sim.posted_batches("AP")) == 1
    assert len(sim.requests_to("/DataEntry/PostTransFile")) == 1


def test_a_batch_created_by_an_earlier_attempt_is_reused_and_posted(client, sim, connection):
    batch = voucher_batch()
    # An earlier attempt created the batch, then died before PostTransFile.
    sim.faults.fail(500, path="/DataEntry/PostTransFile")
    with pytest.raises(TransientFailure):
        client.post_ap_voucher_batch(batch)
    assert [b.name for b in sim.unposted_batches("AP")] == [batch.name]
    result = client.post_ap_voucher_batch(batch)
    assert not result.already_posted
    assert [r.status for r in sim.requests_to("/DataEntry/apControl", "POST")] == [201, 400]
    assert len(sim.posted_batches("AP")) == 1 and sim.unposted_batches() == []


def test_a_batch_name_held_by_another_document_is_not_posted(client, sim):
    ours = voucher_batch()
    theirs = voucher_batch(invoice="SOMEONE-ELSES")
    Raw(sim).post("/DataEntry/apControl", {  # same name, other content, created outside the connector
        "Batch": ours.name, "Period": 202406, "Total": 5.0, "apMaster": [{
            "Vendor": "V90001", "Invoice": theirs.vouchers[0].invoice, "InvoiceDate": "2024-06-01",
            "TransDate": "2024-06-01", "LiabCode": "AP",
            "apDetail": [{"WBS1": "2023001.00", "Account": "5010.00", "Amount": 5.0}]}]})
    with pytest.raises(DataFailure, match="not ours to post"):
        client.post_ap_voucher_batch(ours)
    assert sim.posted_batches() == []


@pytest.mark.parametrize("change, words", [
    ({"wbs1": "9999999.00"}, "Project '9999999.00' does not exist"),
    ({"wbs3": "777"}, "Task '777' does not exist"),
    ({"period": 202402}, "Period 202402 is closed"),
])
def test_validation_refusals_are_data_failures_with_the_server_message(client, sim, change, words):
    with pytest.raises(DataFailure) as failure:
        client.post_ap_voucher_batch(voucher_batch(**change))
    assert words in failure.value.message and failure.value.status == 400
    assert sim.posted_batches() == [] and sim.unposted_batches() == []


def test_a_vendor_invoice_already_vouchered_is_refused(client, sim):
    seeded = sim.ledger("AP")[0]
    batch = voucher_batch(invoice=seeded["Invoice"])
    batch = APVoucherBatch(batch.name, batch.period, (APVoucher(
        vendor=seeded["Vendor"], invoice=seeded["Invoice"], invoice_date=date(2024, 6, 1),
        lines=batch.vouchers[0].lines),))
    with pytest.raises(DataFailure, match="already exists for vendor"):
        client.post_ap_voucher_batch(batch)


def test_a_role_without_posting_rights_is_a_config_failure(db, transport, sim):
    connection = make_connection(username=FEES_HIDDEN_USERNAME)
    with VantagepointClient(connection, transport=transport) as client, pytest.raises(ConfigFailure, match="role"):
        client.post_ap_voucher_batch(voucher_batch())


def test_a_cash_receipt_batch_is_posted_once_and_found_again(client, sim):
    batch, open_item = receipt_batch(sim)
    before = open_item["Balance"]
    result = client.post_cash_receipt_batch(batch)
    assert client.post_cash_receipt_batch(batch).already_posted
    assert open_item["Balance"] == before - Decimal("100.00")
    rows = ledger_rows(sim, "CR", batch.name)
    assert len(rows) == 1 and rows[0]["Account"] == "1200.00" and rows[0]["BankCode"] == "OPER"
    receipt = client.cash_receipt("pi_3Nabc", invoice=open_item["Invoice"])
    assert receipt is not None and receipt.post_seq == result.post_seqs[0] and receipt.total == Decimal("100.00")
    balance = client.ar_balance(open_item["Invoice"], wbs1=open_item["WBS1"])
    assert balance.balance == before - Decimal("100.00")
