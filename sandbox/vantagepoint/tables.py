"""The simulator's tables: their columns, and the rows they hold.

Rows are plain dicts of Python values (str, int, Decimal, datetime, date) in Vantagepoint's
column names; they are rendered to JSON only on the way out, so filters compare typed
values. A blank WBS2/WBS3 is stored as a single space, as Vantagepoint returns it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .query import Schema

FIRM: Schema = {
    "ClientID": "text", "Client": "text", "Name": "text", "ClientInd": "flag", "VendorInd": "flag",
    "Vendor": "text", "Status": "text", "Address1": "text", "Address2": "text", "City": "text",
    "State": "text", "ZIP": "text", "Country": "text", "Phone": "text", "Email": "text", "PayTerms": "text",
    "ModDate": "datetime",
}
PROJECT: Schema = {
    "WBS1": "text", "WBS2": "text", "WBS3": "text", "Name": "text", "ClientID": "text", "BillingClientID": "text",
    "Status": "text", "ChargeType": "text", "SubLevel": "flag", "StartDate": "datetime", "ModDate": "datetime",
}
ACCOUNT: Schema = {"Account": "text", "Name": "text", "Type": "text", "Status": "text"}
IN_LEDGER: Schema = {
    "PKey": "text", "Period": "int", "PostSeq": "int", "Batch": "text", "TransType": "text", "Invoice": "text",
    "Seq": "int", "TransDate": "datetime", "DueDate": "datetime", "PostDate": "datetime", "ModDate": "datetime",
    "WBS1": "text", "WBS2": "text", "WBS3": "text", "BillingClientID": "text", "Account": "text",
    "Description": "text", "Quantity": "number", "UnitPrice": "money", "Amount": "money",
}
AP_LEDGER: Schema = {
    "PKey": "text", "Period": "int", "PostSeq": "int", "Batch": "text", "TransType": "text", "Vendor": "text",
    "Invoice": "text", "Voucher": "text", "InvoiceDate": "datetime", "TransDate": "datetime",
    "PayTerms": "text", "PayDate": "datetime", "LiabCode": "text", "BankCode": "text", "PostDate": "datetime",
    "ModDate": "datetime", "Seq": "int", "WBS1": "text", "WBS2": "text", "WBS3": "text", "Account": "text",
    "Amount": "money", "Description": "text", "PONumber": "text",
}
CR_LEDGER: Schema = {
    "PKey": "text", "Period": "int", "PostSeq": "int", "Batch": "text", "TransType": "text", "RefNo": "text",
    "TransDate": "datetime", "BankCode": "text", "PostDate": "datetime", "ModDate": "datetime", "Seq": "int",
    "WBS1": "text", "WBS2": "text", "WBS3": "text", "Invoice": "text", "Account": "text", "Amount": "money",
    "Description": "text",
}
AR_BALANCE: Schema = {
    "WBS1": "text", "Invoice": "text", "BillingClientID": "text", "InvoiceDate": "datetime", "Period": "int",
    "OriginalAmt": "money", "Paid": "money", "Balance": "money",
}
LEDGER_SCHEMAS = {"IN": IN_LEDGER, "AP": AP_LEDGER, "CR": CR_LEDGER}
BLANK = " "
CENT = Decimal("0.01")


def period_of(moment: date) -> int:
    return moment.year * 100 + moment.month


def blank(value: str | None) -> str:
    """A blank WBS level is a single space in Vantagepoint's tables."""
    return value if value and value.strip() else BLANK


@dataclass
class Tables:
    firms: list[dict[str, Any]] = field(default_factory=list)
    projects: list[dict[str, Any]] = field(default_factory=list)  # projects, phases and tasks
    accounts: list[dict[str, Any]] = field(default_factory=list)
    bank_codes: set[str] = field(default_factory=set)
    liability_codes: set[str] = field(default_factory=set)
    companies: set[str] = field(default_factory=set)
    ledgers: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"IN": [], "AP": [], "CR": []})
    ar_balances: list[dict[str, Any]] = field(default_factory=list)
    defined_periods: set[int] = field(default_factory=set)
    closed_periods: set[int] = field(default_factory=set)
    next_post_seq: dict[int, int] = field(default_factory=dict)
    pkeys: int = 0
    invoice_numbers: int = 0
    voucher_numbers: int = 0

    # -- lookups -------------------------------------------------------------------------
    def vendor(self, code: str) -> dict[str, Any] | None:
        return next((f for f in self.firms if f["VendorInd"] == "Y" and f["Vendor"].lower() == code.lower()), None)

    def firm(self, client_id: str) -> dict[str, Any] | None:
        return next((f for f in self.firms if f["ClientID"].lower() == client_id.lower()), None)

    def wbs(self, wbs1: str, wbs2: str = BLANK, wbs3: str = BLANK) -> dict[str, Any] | None:
        wanted = (wbs1.strip().lower(), blank(wbs2).lower(), blank(wbs3).lower())
        return next((p for p in self.projects
                     if (p["WBS1"].lower(), p["WBS2"].lower(), p["WBS3"].lower()) == wanted), None)

    def children(self, wbs1: str, wbs2: str | None = None) -> list[dict[str, Any]]:
        if wbs2 is None:
            return [p for p in self.projects if p["WBS1"].lower() == wbs1.lower() and p["WBS2"] != BLANK
                    and p["WBS3"] == BLANK]
        return [p for p in self.projects if p["WBS1"].lower() == wbs1.lower()
                and p["WBS2"].lower() == blank(wbs2).lower() and p["WBS3"] != BLANK]

    def account(self, code: str) -> dict[str, Any] | None:
        return next((a for a in self.accounts if a["Account"] == code.strip()), None)

    def ar_balance(self, wbs1: str, invoice: str) -> dict[str, Any] | None:
        return next((b for b in self.ar_balances
                     if b["WBS1"].lower() == wbs1.lower() and b["Invoice"].lower() == invoice.lower()), None)

    # -- sequences -----------------------------------------------------------------------
    def take_post_seq(self, period: int) -> int:
        seq = self.next_post_seq.get(period, 1)
        self.next_post_seq[period] = seq + 1
        return seq

    def take_pkey(self, kind: str) -> str:
        self.pkeys += 1
        return f"{kind}{self.pkeys:09d}"

    def take_invoice_number(self) -> str:
        self.invoice_numbers += 1
        return f"{self.invoice_numbers:07d}"

    def take_voucher_number(self) -> str:
        self.voucher_numbers += 1
        return f"{self.voucher_numbers:07d}"

    # -- posting an AR invoice (seed and the runtime test helper share it) ---------------
    def post_invoice(self, *, invoice: str, project: dict[str, Any], lines: list[dict[str, Any]],
                     trans_date: date, post_date: datetime, period: int, post_seq: int,
                     due_days: int = 30, batch: str = "") -> list[dict[str, Any]]:
        """Ledger rows for one invoice (one per line) and its AR balance row."""
        rows = []
        for seq, line in enumerate(lines, start=1):
            quantity = Decimal(str(line.get("Quantity", 1)))
            unit_price = Decimal(str(line.get("UnitPrice", 0))).quantize(CENT)
            rows.append({
                "PKey": self.take_pkey("IN"), "Period": period, "PostSeq": post_seq, "Batch": batch,
                "TransType": "IN", "Invoice": invoice, "Seq": seq, "TransDate": trans_date,
                "DueDate": date.fromordinal(trans_date.toordinal() + due_days), "PostDate": post_date,
                "ModDate": post_date, "WBS1": project["WBS1"], "WBS2": blank(line.get("WBS2")),
                "WBS3": blank(line.get("WBS3")), "BillingClientID": project["BillingClientID"],
                "Account": line.get("Account", "4010.00"), "Description": line.get("Description", "Services"),
                "Quantity": quantity, "UnitPrice": unit_price, "Amount": (quantity * unit_price).quantize(CENT),
            })
        self.ledgers["IN"].extend(rows)
        total = sum((r["Amount"] for r in rows), Decimal("0"))
        self.ar_balances.append({
            "WBS1": project["WBS1"], "Invoice": invoice, "BillingClientID": project["BillingClientID"],
            "InvoiceDate": trans_date, "Period": period, "OriginalAmt": total, "Paid": Decimal("0.00"),
            "Balance": total,
        })
        return rows
