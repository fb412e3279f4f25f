"""The Vantagepoint client both flows use: typed reads and safe batch posting.

One client per tenant connection. Reads return the dataclasses of records.py; writes
return a PostingResult (postings.py explains why they never post twice); every failure
is one of the engine's kinds (transient, config, data), never a raw HTTP error.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.utils import timezone

from connector.failures import DataFailure
from connector.http import HttpPolicy

from . import endpoints
from .postings import (
    AP,
    CR,
    APVoucherBatch,
    CashReceiptBatch,
    PostingResult,
    ap_batch_payload,
    cr_batch_payload,
    post_batch,
    posted_batch,
)
from .query import Condition, Params, filter_params, order_param
from .records import (
    SYSTEM,
    Account,
    APInvoice,
    ARBalance,
    ARInvoice,
    ARInvoicePage,
    CashReceipt,
    Firm,
    Phase,
    Project,
    Task,
    account_from_row,
    ap_invoice_from_rows,
    ar_balance_from_row,
    cash_receipt_from_rows,
    firm_from_row,
    flag,
    integer,
    invoices_from_rows,
    moment,
    project_from_row,
    text,
)
from .session import RecordNotFound, VantagepointSession

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500  # (assumed) the server's cap: above it a page comes back short and paging stops early
INVOICE_CURSOR_FIELDS = ("PostDate", "ModDate")


class VantagepointClient:
    def __init__(self, connection: Any, *, transport: httpx.BaseTransport | None = None,
                 policy: HttpPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = timezone.now) -> None:
        self.connection = connection
        self.session = VantagepointSession(connection, transport=transport, policy=policy, sleep=sleep, clock=clock)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> VantagepointClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def authenticate(self) -> None:
        """Make sure a usable token is cached (a login only if none is)."""
        self.session.access_token()

    # -- helpers -----------------------------------------------------------------------------
    def _all_rows(self, path: str, params: Params, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[dict[str, Any]]:
        _check_page_size(page_size)
        rows: list[dict[str, Any]] = []
        for page in self.session.pages(path, params, page_size=page_size):
            rows.extend(page)
        return rows

    # -- firms ---------------------------------------------------------------------------------
    def firms(self, *, clients: bool | None = None, vendors: bool | None = None,
              page_size: int = DEFAULT_PAGE_SIZE) -> list[Firm]:
        """Clients and vendors; `clients=True` / `vendors=True` narrow to one role."""
        conditions = []
        if clients is not None:
            conditions.append(Condition("ClientInd", "Y" if clients else "N"))
        if vendors is not None:
            conditions.append(Condition("VendorInd", "Y" if vendors else "N"))
        params = filter_params(conditions) + order_param("ClientID")
        return [firm_from_row(r) for r in self._all_rows(endpoints.FIRMS, params, page_size=page_size)]

    def firm(self, client_id: str) -> Firm | None:
        try:
            rows = self.session.rows(endpoints.firm(client_id), collection=False)
        except RecordNotFound:
            return None
        return firm_from_row(rows[0]) if rows else None

    def vendor(self, vendor_code: str) -> Firm | None:
        params = filter_params([Condition("VendorInd", "Y"), Condition("Vendor", vendor_code)])
        rows = self.session.rows(endpoints.FIRMS, params + order_param("ClientID"))
        return firm_from_row(rows[0]) if rows else None

    def account(self, code: str) -> Account | None:
        """The GL account with exactly this code, or None."""
        rows = self.session.rows(endpoints.ACCOUNTS, filter_params([Condition("Account", code.strip())]))
        return next((account_from_row(r) for r in rows if text(r, "Account") == code.strip()), None)

    # -- projects --------------------------------------------------------------------------------
    def projects(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[Project]:
        """Every project (WBS1 level, phases not read: see `project`)."""
        rows = self._all_rows(endpoints.PROJECTS, order_param("WBS1"), page_size=page_size)
        return [project_from_row(r) for r in rows]

    def project(self, wbs1: str) -> Project | None:
        """One project with its phases and their tasks; None when Vantagepoint has no such WBS1."""
        try:
            rows = self.session.rows(endpoints.project(wbs1), collection=False)
            if not rows:
                return None
            phases = []
            head = project_from_row(rows[0])
            if head.has_phases:
                phase_rows = self._all_rows(endpoints.project_phases(wbs1), order_param("WBS2"))
                for row in phase_rows:
                    wbs2 = text(row, "WBS2")
                    tasks: tuple[Task, ...] = ()
                    if flag(row, "SubLevel"):
                        task_rows = self._all_rows(endpoints.phase_tasks(wbs1, wbs2), order_param("WBS3"))
                        tasks = tuple(Task(text(t, "WBS3"), text(t, "Name"), text(t, "Status")) for t in task_rows)
                    phases.append(Phase(wbs2, text(row, "Name"), text(row, "Status"), tasks))
        except RecordNotFound:
            return None
        return project_from_row(rows[0], tuple(phases))

    # -- posted AR invoices ----------------------------------------------------------------------
    def ar_invoices_since(self, cursor: datetime | None, *, field: str = "PostDate",
                          lookback: timedelta = timedelta(0), page_size: int = DEFAULT_PAGE_SIZE,
                          max_pages: int = 50) -> ARInvoicePage:
        """Posted AR invoices whose `field` (PostDate or ModDate) is at or after `cursor - lookback`.

        `>=` rather than `>`: invoices posted together share one timestamp to the
        millisecond, and one of them may not have been committed when the last read ran;
        re-reading the cursor's own timestamp costs a few duplicates (callers dedupe on
        `ARInvoice.key`) and never skips one. `lookback` widens that to late commits with
        earlier timestamps. The order ends with the ledger's unique key, so page
        boundaries cannot shuffle tied rows.
        """
        if field not in INVOICE_CURSOR_FIELDS:
            raise ValueError(f"field must be one of {INVOICE_CURSOR_FIELDS}")
        _check_page_size(page_size)
        conditions = [] if cursor is None else [Condition(field, cursor - lookback, ">=")]
        params = filter_params(conditions) + order_param(field, "Period", "PostSeq", "PKey")
        rows: list[dict[str, Any]] = []
        complete = True
        for number, page in enumerate(self.session.pages(endpoints.AR_INVOICE_LEDGER, params,
                                                         page_size=page_size), start=1):
            rows.extend(page)
            if number >= max_pages and len(page) == page_size and moment(rows[0], field) < moment(rows[-1], field):
                complete = False
                break
        next_cursor = cursor
        if rows:
            last = moment(rows[-1], field)  # rows come in ascending order of `field`
            if not complete:
                # The last timestamp may go on past this page: hold it back whole for next time.
                rows = [r for r in rows if moment(r, field) < last]
            # Never move back (a lookback re-reads rows older than the cursor).
            next_cursor = last if cursor is None else max(last, cursor)
        invoices = invoices_from_rows(rows)
        if field == "ModDate":
            # An edit may touch one line only: read each changed invoice whole.
            invoices = [self.ar_invoice(i.invoice, i.period, i.post_seq) or i for i in invoices]
        return ARInvoicePage(invoices=invoices, next_cursor=next_cursor, complete=complete)

    def ar_invoice(self, invoice: str, period: int, post_seq: int) -> ARInvoice | None:
        conditions = [Condition("Invoice", invoice), Condition("Period", period), Condition("PostSeq", post_seq)]
        rows = self._all_rows(endpoints.AR_INVOICE_LEDGER, filter_params(conditions) + order_param("Seq", "PKey"))
        invoices = invoices_from_rows(rows)
        return invoices[0] if invoices else None

    def ar_balance(self, invoice: str, *, wbs1: str | None = None) -> ARBalance | None:
        """The open balance of an invoice (per project: pass `wbs1` when the number is reused)."""
        conditions = [Condition("Invoice", invoice)] + ([Condition("WBS1", wbs1)] if wbs1 else [])
        rows = self.session.rows(endpoints.AR_BALANCE, filter_params(conditions) + order_param("WBS1"))
        if len(rows) > 1:
            projects = ", ".join(sorted({text(r, "WBS1") for r in rows}))
            raise DataFailure(f"invoice {invoice} has balances on several projects ({projects}): name the project",
                              system=SYSTEM)
        return ar_balance_from_row(rows[0]) if rows else None

    # -- posted AP vouchers and cash receipts ----------------------------------------------------
    def ap_invoice(self, vendor: str, invoice: str) -> APInvoice | None:
        """The vendor's invoice if already vouchered (the earliest posting if more than one)."""
        conditions = [Condition("Vendor", vendor), Condition("Invoice", invoice)]
        rows = self._all_rows(endpoints.AP_LEDGER, filter_params(conditions) + order_param("Period", "PostSeq", "PKey"))
        return ap_invoice_from_rows(_first_posting(rows)) if rows else None

    def cash_receipt(self, ref_no: str, *, invoice: str | None = None) -> CashReceipt | None:
        """A posted receipt by reference (the earliest posting if more than one)."""
        conditions = [Condition("RefNo", ref_no)] + ([Condition("Invoice", invoice)] if invoice else [])
        rows = self._all_rows(endpoints.CASH_RECEIPT_LEDGER,
                              filter_params(conditions) + order_param("Period", "PostSeq", "PKey"))
        return cash_receipt_from_rows(_first_posting(rows)) if rows else None

    # -- writes --------------------------------------------------------------------------------
    def post_ap_voucher_batch(self, batch: APVoucherBatch) -> PostingResult:
        payload = ap_batch_payload(batch, liability_code=self.connection.liability_code,
                                   bank_code=self.connection.bank_code)
        return post_batch(self.session, AP, payload, description=batch.description or f"AP batch {batch.name}",
                          client_company=self.connection.client_company)

    def ap_voucher_batch_posted(self, name: str) -> PostingResult | None:
        """Our AP batch as posted, or None: what a step looks for before posting again."""
        return posted_batch(self.session, AP, name)

    def cash_receipt_batch_posted(self, name: str) -> PostingResult | None:
        return posted_batch(self.session, CR, name)

    def post_cash_receipt_batch(self, batch: CashReceiptBatch) -> PostingResult:
        payload = cr_batch_payload(batch, ar_account=self.connection.ar_account, bank_code=self.connection.bank_code)
        return post_batch(self.session, CR, payload, description=batch.description or f"CR batch {batch.name}",
                          client_company=self.connection.client_company)


def _first_posting(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = (integer(rows[0], "Period"), integer(rows[0], "PostSeq"))
    return [r for r in rows if (integer(r, "Period"), integer(r, "PostSeq")) == first]


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
