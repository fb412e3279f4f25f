"""The post step's business: one Vantagepoint cash receipt batch per payment or refund.

Vantagepoint has no idempotency key, so a receipt is keyed on the money that moved, never on
the event that told us: the batch name is derived from the payment (or refund) id, and the
receipt's RefNo is that id. Two documents about one payment (invoice.paid and
charge.succeeded) derive the same batch name, and Vantagepoint refuses a second batch of a
name; before posting, the CR ledger is searched for a receipt with that RefNo on the
invoice (entered by hand, or by the other document), and one found makes this one a
duplicate. A refund posts a negative receipt, and only once its payment's receipt is there.
A refund that failed after it succeeded posts a positive receipt reversing the refund's
(RefNo: the refund id plus a suffix), only when the refund's receipt is in Vantagepoint; one
that failed before its receipt was posted posts nothing. Both happen under a lock per refund,
and a refund's receipt is posted only after Stripe says, under that lock, that it has not
failed: whichever document comes first, the ledger ends with both receipts or neither.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connector.failures import TransientFailure
from connector.vantagepoint import CashReceiptBatch, CashReceiptEntry, CashReceiptLine, VantagepointClient
from connector.vantagepoint.postings import PostingResult, batch_name
from connector.vantagepoint.records import ARBalance, CashReceipt

from .matching import Target
from .payments import REVERSAL, Movement

BATCH_PREFIX = "STR"


class PaymentReceiptMissing(TransientFailure):
    """A refund whose payment has no receipt in Vantagepoint yet: it waits (retrying) for it."""


class RefundReceiptPending(TransientFailure):
    """A failed refund whose receipt another document is posting (or holds the refund's lock):
    its reversal waits (retrying) to see whether that receipt went in."""


def receipt_batch_name(movement: Movement) -> str:
    """The same for every document about this payment, refund or reversal, on every try."""
    return receipt_batch_name_of(movement.reference)


def receipt_batch_name_of(reference: str) -> str:
    return batch_name(BATCH_PREFIX, f"stripe:{reference}")


def receipt_period(on: date) -> int:
    return on.year * 100 + on.month


def receipt_batch(movement: Movement, target: Target, *, name: str, period: int, trans_date: date,
                  invoice_label: str) -> CashReceiptBatch:
    what = ("Stripe refund failed, reversed:" if movement.kind == REVERSAL
            else "Stripe refund" if movement.amount_minor < 0 else "Stripe payment")
    description = f"{what} {movement.reference} on invoice {target.invoice} ({invoice_label})"[:100]
    line = CashReceiptLine(wbs1=target.project, wbs2=target.wbs2, wbs3=target.wbs3, invoice=target.invoice,
                           amount=movement.amount, description=description)
    entry = CashReceiptEntry(ref_no=movement.reference, trans_date=trans_date, lines=(line,), description=description)
    return CashReceiptBatch(name=name, period=period, receipts=(entry,), description=description)


def receipt_found(vp: VantagepointClient, movement: Movement, target: Target) -> CashReceipt | None:
    """A posted receipt for this payment or refund on the invoice, whoever posted it."""
    return vp.cash_receipt(movement.reference, invoice=target.invoice)


def payment_receipt_required(vp: VantagepointClient, refund: Movement, target: Target) -> None:
    """A refund is posted only after the receipt of the payment it gives money back from."""
    if refund.payment and vp.cash_receipt(refund.payment, invoice=target.invoice) is None:
        raise PaymentReceiptMissing(f"refund {refund.reference} waits for the receipt of payment {refund.payment} "
                                    f"on invoice {target.invoice}: it is posted once that one is in Vantagepoint",
                                    system="vantagepoint")


def posting_json(result: PostingResult) -> dict[str, Any]:
    return {"batch": result.batch, "period": result.period, "post_seqs": list(result.post_seqs),
            "already_posted": result.already_posted}


def receipt_json(receipt: CashReceipt) -> dict[str, Any]:
    return {"batch": receipt.batch, "period": receipt.period, "post_seqs": [receipt.post_seq],
            "amount": str(receipt.total), "ref_no": receipt.ref_no}


def ar_status(balance: ARBalance) -> str:
    """In the words of the document page: paid, partly paid, unpaid or overpaid."""
    if balance.balance == Decimal("0"):
        return "paid"
    if balance.balance < 0:
        return "overpaid"
    if balance.paid_amount > 0 and balance.balance < balance.original_amount:
        return "partly paid"
    return "unpaid"
