"""The Deltek Vantagepoint client both flows share (see docs/SYSTEMS.md for the contract).

- endpoints.py: every API path, in one place;
- session.py: tokens (cached encrypted on the connection), the shared HTTP policy, and
  HTTP statuses turned into failure kinds;
- records.py: the typed records read; query.py: filterHash, order and pages;
- client.py: VantagepointClient, the reads and the two writes;
- postings.py: AP voucher and cash receipt batches, posted once and only once;
- connection_test.py: the admin's connection test with its field-visibility probe;
- transport.py: in-process transports made to fail like sockets.
"""
from .client import VantagepointClient
from .connection_test import ConnectionTestResult, vantagepoint_connection_test
from .postings import (
    APVoucher,
    APVoucherBatch,
    APVoucherLine,
    CashReceiptBatch,
    CashReceiptEntry,
    CashReceiptLine,
    PostingResult,
    batch_name,
    parse_post_reply,
)
from .records import (
    Address,
    APInvoice,
    ARBalance,
    ARInvoice,
    ARInvoiceLine,
    ARInvoicePage,
    CashReceipt,
    Firm,
    Phase,
    PostedLine,
    Project,
    Task,
    invoice_key,
)

__all__ = [
    "Address", "APInvoice", "APVoucher", "APVoucherBatch", "APVoucherLine", "ARBalance", "ARInvoice",
    "ARInvoiceLine", "ARInvoicePage", "CashReceipt", "CashReceiptBatch", "CashReceiptEntry", "CashReceiptLine",
    "ConnectionTestResult", "Firm", "Phase", "PostedLine", "PostingResult", "Project", "Task", "VantagepointClient",
    "batch_name", "invoice_key", "parse_post_reply", "vantagepoint_connection_test",
]
