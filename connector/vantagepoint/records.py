"""What the connector reads from Vantagepoint, typed: firms, projects, invoices, balances.

Vantagepoint's rows are loose (flags "Y"/"N", zone-less dates, a blank WBS level as a
single space, money as JSON numbers), so every row passes through the parsers here once,
at the edge, and the flows only ever see these dataclasses. Money is Decimal (the JSON is
read with parse_float=Decimal, so no float ever touches an amount). Dates stay zone-less:
they are the Vantagepoint server's wall-clock time, and a cursor built from them is only
ever compared with other Vantagepoint dates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.failures import DataFailure

SYSTEM = "vantagepoint"
ZERO = Decimal("0")


# -- value parsers: each raises DataFailure naming the column, never a bare ValueError -------
def text(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def wbs_level(row: dict[str, Any], column: str) -> str:
    """A blank WBS2/WBS3 comes back as " ": it means "no phase/task", i.e. ""."""
    return text(row, column)


def flag(row: dict[str, Any], column: str) -> bool:
    value = row.get(column)
    if value in (None, "", False, "N", "n"):
        return False
    if value in (True, "Y", "y"):
        return True
    raise DataFailure(f"{column} should be Y or N, got {value!r}", system=SYSTEM)


def money(row: dict[str, Any], column: str) -> Decimal:
    value = row.get(column)
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool):
        raise DataFailure(f"{column} should be an amount, got {value!r}", system=SYSTEM)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise DataFailure(f"{column} should be an amount, got {value!r}", system=SYSTEM) from None


def integer(row: dict[str, Any], column: str) -> int:
    value = row.get(column)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise DataFailure(f"{column} should be a whole number, got {value!r}", system=SYSTEM) from None


def parse_datetime(value: Any, column: str = "date") -> datetime:
    """A Vantagepoint date (`2017-12-31T00:00:00.000`) as a naive datetime.

    A zone suffix, if a server ever sends one, is dropped rather than converted: the
    value is the server's wall-clock time either way, and cursors compare like with like.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if not isinstance(value, str) or not value.strip():
        raise DataFailure(f"{column} should be a date, got {value!r}", system=SYSTEM)
    raw = value.strip()
    if raw.endswith("Z"):
        raw = raw[:-1]
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        raise DataFailure(f"{column} should be a date, got {value!r}", system=SYSTEM) from None


def moment(row: dict[str, Any], column: str) -> datetime:
    return parse_datetime(row.get(column), column)


def day(row: dict[str, Any], column: str) -> date:
    return moment(row, column).date()


def optional_day(row: dict[str, Any], column: str) -> date | None:
    return None if row.get(column) in (None, "") else day(row, column)


def format_datetime(value: datetime | date) -> str:
    """The zone-less format Vantagepoint reads and writes, milliseconds included."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


# -- firms ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class Firm:
    """A client, a vendor or both (Vantagepoint keeps them in one hub)."""

    client_id: str  # the 32-hex key: what invoices and projects refer to
    client_code: str
    name: str
    is_client: bool
    is_vendor: bool
    vendor_code: str
    status: str
    address: Address
    pay_terms: str
    email: str
    phone: str

    @property
    def active(self) -> bool:
        return self.status == "A"


@dataclass(frozen=True)
class Account:
    """A GL account; codes are strings ("5010.00"), never numbers."""

    code: str
    name: str
    type: str
    status: str

    @property
    def active(self) -> bool:
        return self.status in ("", "A")


def account_from_row(row: dict[str, Any]) -> Account:
    return Account(code=text(row, "Account"), name=text(row, "Name"), type=text(row, "Type"),
                   status=text(row, "Status"))


def firm_from_row(row: dict[str, Any]) -> Firm:
    return Firm(
        client_id=text(row, "ClientID"), client_code=text(row, "Client"), name=text(row, "Name"),
        is_client=flag(row, "ClientInd"), is_vendor=flag(row, "VendorInd"), vendor_code=text(row, "Vendor"),
        status=text(row, "Status"),
        address=Address(text(row, "Address1"), text(row, "Address2"), text(row, "City"), text(row, "State"),
                         text(row, "ZIP"), text(row, "Country")),
        pay_terms=text(row, "PayTerms"), email=text(row, "Email"), phone=text(row, "Phone"),
    )


# -- projects (WBS1 project, WBS2 phase, WBS3 task) --------------------------------------------
@dataclass(frozen=True)
class Task:
    wbs3: str
    name: str
    status: str


@dataclass(frozen=True)
class Phase:
    wbs2: str
    name: str
    status: str
    tasks: tuple[Task, ...] = ()


@dataclass(frozen=True)
class Project:
    wbs1: str
    name: str
    client_id: str
    billing_client_id: str
    status: str
    charge_type: str
    has_phases: bool
    phases: tuple[Phase, ...] = ()  # filled by VantagepointClient.project(), not by the listing

    @property
    def active(self) -> bool:
        return self.status == "A"

    def phase(self, wbs2: str) -> Phase | None:
        return next((p for p in self.phases if p.wbs2.lower() == wbs2.strip().lower()), None)


def project_from_row(row: dict[str, Any], phases: tuple[Phase, ...] = ()) -> Project:
    return Project(
        wbs1=text(row, "WBS1"), name=text(row, "Name"), client_id=text(row, "ClientID"),
        billing_client_id=text(row, "BillingClientID") or text(row, "ClientID"), status=text(row, "Status"),
        charge_type=text(row, "ChargeType"), has_phases=flag(row, "SubLevel"), phases=phases,
    )


# -- posted AR invoices -----------------------------------------------------------------------
@dataclass(frozen=True)
class ARInvoiceLine:
    seq: int
    wbs1: str
    wbs2: str
    wbs3: str
    account: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ARInvoice:
    """One posted AR invoice with its lines.

    An invoice number is unique only together with its period and posting sequence (a
    firm may restart its numbering), hence `key`: what flows deduplicate on.
    """

    invoice: str
    period: int
    post_seq: int
    invoice_date: date
    due_date: date | None
    post_date: datetime
    mod_date: datetime
    project: str  # WBS1 of the first line
    billing_client_id: str
    lines: tuple[ARInvoiceLine, ...]

    @property
    def key(self) -> str:
        return invoice_key(self.invoice, self.period, self.post_seq)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def invoice_key(invoice: str, period: int, post_seq: int) -> str:
    return f"{invoice}:{period}:{post_seq}"


def invoice_line_from_row(row: dict[str, Any]) -> ARInvoiceLine:
    return ARInvoiceLine(
        seq=integer(row, "Seq") if row.get("Seq") not in (None, "") else 0, wbs1=text(row, "WBS1"),
        wbs2=wbs_level(row, "WBS2"), wbs3=wbs_level(row, "WBS3"), account=text(row, "Account"),
        description=text(row, "Description"), quantity=money(row, "Quantity"), unit_price=money(row, "UnitPrice"),
        amount=money(row, "Amount"),
    )


def invoices_from_rows(rows: list[dict[str, Any]]) -> list[ARInvoice]:
    """Group ledger rows (one per line) into invoices, in the order first seen."""
    grouped: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((text(row, "Invoice"), integer(row, "Period"), integer(row, "PostSeq")), []).append(row)
    invoices = []
    for (number, period, post_seq), group in grouped.items():
        lines = sorted((invoice_line_from_row(r) for r in group), key=lambda line: line.seq)
        # Rows of one invoice may be seen twice (a re-read page): keep one line per Seq.
        unique = tuple({line.seq: line for line in lines}.values()) if all(line.seq for line in lines) else tuple(lines)
        head = group[0]
        invoices.append(ARInvoice(
            invoice=number, period=period, post_seq=post_seq, invoice_date=day(head, "TransDate"),
            due_date=optional_day(head, "DueDate"), post_date=moment(head, "PostDate"),
            mod_date=max(moment(r, "ModDate") if r.get("ModDate") else moment(r, "PostDate") for r in group),
            project=text(head, "WBS1"), billing_client_id=text(head, "BillingClientID"), lines=unique,
        ))
    return invoices


@dataclass(frozen=True)
class ARInvoicePage:
    """One read of posted invoices since a cursor.

    `next_cursor` is what to pass next time (the caller stores it only after committing
    the invoices); `complete` is False when the read stopped early at `max_pages`, in
    which case invoices at the cursor's timestamp were held back to be read whole next time.
    """

    invoices: list[ARInvoice]
    next_cursor: datetime | None
    complete: bool


# -- balances, vouchers, receipts -------------------------------------------------------------
@dataclass(frozen=True)
class ARBalance:
    invoice: str
    wbs1: str
    billing_client_id: str
    invoice_date: date | None
    original_amount: Decimal
    paid_amount: Decimal
    balance: Decimal


def ar_balance_from_row(row: dict[str, Any]) -> ARBalance:
    return ARBalance(
        invoice=text(row, "Invoice"), wbs1=text(row, "WBS1"), billing_client_id=text(row, "BillingClientID"),
        invoice_date=optional_day(row, "InvoiceDate"), original_amount=money(row, "OriginalAmt"),
        paid_amount=money(row, "Paid"), balance=money(row, "Balance"),
    )


@dataclass(frozen=True)
class PostedLine:
    wbs1: str
    wbs2: str
    wbs3: str
    account: str
    amount: Decimal
    description: str
    invoice: str = ""  # cash receipts: the AR invoice paid


@dataclass(frozen=True)
class APInvoice:
    """A vendor invoice as posted (a voucher)."""

    vendor: str
    invoice: str
    voucher: str
    period: int
    post_seq: int
    batch: str
    invoice_date: date | None
    lines: tuple[PostedLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


@dataclass(frozen=True)
class CashReceipt:
    """A cash receipt as posted."""

    ref_no: str
    period: int
    post_seq: int
    batch: str
    trans_date: date | None
    bank_code: str
    lines: tuple[PostedLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def posted_line_from_row(row: dict[str, Any]) -> PostedLine:
    return PostedLine(wbs1=text(row, "WBS1"), wbs2=wbs_level(row, "WBS2"), wbs3=wbs_level(row, "WBS3"),
                      account=text(row, "Account"), amount=money(row, "Amount"),
                      description=text(row, "Description"), invoice=text(row, "Invoice"))


def ap_invoice_from_rows(rows: list[dict[str, Any]]) -> APInvoice:
    head = rows[0]
    return APInvoice(
        vendor=text(head, "Vendor"), invoice=text(head, "Invoice"), voucher=text(head, "Voucher"),
        period=integer(head, "Period"), post_seq=integer(head, "PostSeq"), batch=text(head, "Batch"),
        invoice_date=optional_day(head, "InvoiceDate"), lines=tuple(posted_line_from_row(r) for r in rows),
    )


def cash_receipt_from_rows(rows: list[dict[str, Any]]) -> CashReceipt:
    head = rows[0]
    return CashReceipt(
        ref_no=text(head, "RefNo"), period=integer(head, "Period"), post_seq=integer(head, "PostSeq"),
        batch=text(head, "Batch"), trans_date=optional_day(head, "TransDate"), bank_code=text(head, "BankCode"),
        lines=tuple(posted_line_from_row(r) for r in rows),
    )
