"""Transaction entry: AP voucher and cash receipt batches, validated and posted.

`POST /DataEntry/apControl` (or `crControl`) creates a batch: one control record holding a
master array (`apMaster` / `crMaster`), each master holding its detail array (`apDetail` /
`crDetail`). `PUT /DataEntry/PostTransFile` with `{"parms": {batch, clientcompany, period,
transtype, description}}` posts it, gives it a posting sequence and moves it to the ledger
(`/PSALedger/AP`, `/PSALedger/CR`, rows carrying the batch name); from then on the batch is
no longer in data entry. The reply is a JSON string that holds a JSON object of
pipe-separated lists, each ending with a pipe (assumed):
`"{\\"batchList\\":\\"B1|\\",\\"postseqList\\":\\"57|\\",\\"periodList\\":\\"202406|\\",\\"errorList\\":\\"\\"}"`.

Validation follows the product's rules (messages are ours, assumed): every vendor, project,
phase, task, account, bank code and liability code must exist; charges go to the lowest
WBS level of an active project; the period must be defined and open; the control `Total`
must equal the sum of the details; a batch name is unique among unposted and posted
batches; a vendor's invoice number cannot be posted twice; a batch is posted once. Every
problem found is reported, joined with "; ", as a 400 `{"Message": ...}`.
Field names are matched without regard to case (JSON.NET's habit); unknown ones are refused.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .auth import SimClock, SimUser
from .tables import BLANK, CENT, Tables, blank
from .web import refuse

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,7})?)?$")

CONTROL_FIELDS = {"AP": ("Batch", "Period", "Total", "Description", "apMaster"),
                  "CR": ("Batch", "Period", "Total", "Description", "crMaster")}
MASTER_FIELDS = {
    "AP": ("Vendor", "Invoice", "InvoiceDate", "TransDate", "Voucher", "PayTerms", "PayDate", "LiabCode",
           "BankCode", "Description", "apDetail"),
    "CR": ("RefNo", "TransDate", "BankCode", "Description", "crDetail"),
}
DETAIL_FIELDS = {"AP": ("WBS1", "WBS2", "WBS3", "Account", "Amount", "Description", "PONumber"),
                 "CR": ("WBS1", "WBS2", "WBS3", "Invoice", "Account", "Amount", "Description")}
REQUIRED = {
    ("AP", "master"): ("Vendor", "Invoice", "InvoiceDate", "TransDate", "LiabCode"),
    ("CR", "master"): ("RefNo", "TransDate", "BankCode"),
    ("AP", "detail"): ("WBS1", "Account", "Amount"),
    ("CR", "detail"): ("WBS1", "Account", "Amount"),
}
PARMS = ("batch", "clientcompany", "period", "transtype", "description")
LABEL = {"AP": "AP vouchers", "CR": "cash receipts"}


@dataclass
class Batch:
    kind: str
    name: str
    period: int
    total: Decimal
    description: str
    masters: list[dict[str, Any]]
    created_by: str
    created_at: datetime
    posted: bool = False
    post_seq: int | None = None
    posted_at: datetime | None = None
    ledger_rows: list[dict[str, Any]] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        masters_key, details_key = ("apMaster", "apDetail") if self.kind == "AP" else ("crMaster", "crDetail")
        return {
            "Batch": self.name, "Period": self.period, "Total": self.total, "Description": self.description,
            "Posted": "Y" if self.posted else "N", "CreateUser": self.created_by, "CreateDate": self.created_at,
            masters_key: [
                {**{k: v for k, v in m.items() if k != "details"}, details_key: m["details"]} for m in self.masters
            ],
        }


def _canonical(record: Any, allowed: tuple[str, ...], where: str, errors: list[str]) -> dict[str, Any]:
    if not isinstance(record, dict):
        errors.append(f"{where} must be an object.")
        return {}
    names = {name.lower(): name for name in allowed}
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key.lower() not in names:
            errors.append(f"Unknown field '{key}' in {where}.")
        else:
            out[names[key.lower()]] = value
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date(value: Any, where: str, errors: list[str]) -> date | None:
    text = _text(value)
    if not _DATE.match(text):
        errors.append(f"{where}: '{text}' is not a valid date.")
        return None
    return datetime.fromisoformat(text).date()


def _amount(value: Any, where: str, errors: list[str]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        errors.append(f"{where}: '{value}' is not a number.")
        return Decimal("0")
    return Decimal(value).quantize(CENT)


class DataEntry:
    def __init__(self, tables: Tables, clock: SimClock) -> None:
        self.tables = tables
        self.clock = clock
        self.unposted: dict[tuple[str, str], Batch] = {}
        self.posted: dict[tuple[str, str], Batch] = {}

    # -- create ----------------------------------------------------------------------------
    def create(self, kind: str, body: Any, user: SimUser) -> Batch:
        if kind not in user.role.may_post:
            raise refuse(400, f"Your role ({user.role.name}) does not have access to enter {LABEL[kind]}.")
        if isinstance(body, list) and len(body) == 1:
            body = body[0]
        errors: list[str] = []
        control = _canonical(body, CONTROL_FIELDS[kind], "the batch", errors)
        name = _text(control.get("Batch"))
        if not name:
            errors.append("Batch is required.")
        elif len(name) > 32:
            errors.append("Batch may not be longer than 32 characters.")
        elif (kind, name.lower()) in self.unposted or (kind, name.lower()) in self.posted:
            raise refuse(400, f"Batch '{name}' already exists.")
        period = self._period(control.get("Period"), errors)
        total = _amount(control.get("Total"), "Total", errors)
        masters_key = "apMaster" if kind == "AP" else "crMaster"
        raw_masters = control.get(masters_key)
        if not isinstance(raw_masters, list) or not raw_masters:
            errors.append(f"{masters_key} must hold at least one record.")
            raw_masters = []
        masters = [self._master(kind, m, f"{masters_key}[{i}]", errors) for i, m in enumerate(raw_masters)]
        entered = sum((d["Amount"] for m in masters for d in m["details"]), Decimal("0"))
        if not errors and entered != total:
            errors.append(f"Batch '{name}' is not balanced: control total {total:.2f}, detail total {entered:.2f}.")
        if errors:
            raise refuse(400, "; ".join(errors))
        batch = Batch(kind, name, period, total, _text(control.get("Description")), masters,
                      user.username, self.clock.now())
        self.unposted[(kind, name.lower())] = batch
        return batch

    def _period(self, value: Any, errors: list[str]) -> int:
        try:
            period = int(str(value))
        except ValueError:
            errors.append(f"Period '{value}' is not a period (YYYYMM).")
            return 0
        if period not in self.tables.defined_periods:
            errors.append(f"Period {period} is not defined.")
        elif period in self.tables.closed_periods:
            errors.append(f"Period {period} is closed.")
        return period

    def _master(self, kind: str, raw: Any, where: str, errors: list[str]) -> dict[str, Any]:
        master = _canonical(raw, MASTER_FIELDS[kind], where, errors)
        for name in REQUIRED[(kind, "master")]:
            if not _text(master.get(name)):
                errors.append(f"{where}.{name} is required.")
        details_key = "apDetail" if kind == "AP" else "crDetail"
        out: dict[str, Any] = {k: _text(v) for k, v in master.items() if k != details_key}
        for name in ("InvoiceDate", "TransDate", "PayDate"):
            if _text(master.get(name)):
                out[name] = _date(master[name], f"{where}.{name}", errors)
        tables = self.tables
        if kind == "AP":
            vendor = tables.vendor(out.get("Vendor", "")) if out.get("Vendor") else None
            if out.get("Vendor") and vendor is None:
                errors.append(f"Vendor '{out['Vendor']}' does not exist.")
            elif vendor is not None and vendor["Status"] != "A":
                errors.append(f"Vendor '{out['Vendor']}' is inactive.")
            if out.get("LiabCode") and out["LiabCode"] not in tables.liability_codes:
                errors.append(f"Liability code '{out['LiabCode']}' does not exist.")
            if vendor is not None and out.get("Invoice") and any(
                    r["Vendor"].lower() == vendor["Vendor"].lower() and r["Invoice"].lower() == out["Invoice"].lower()
                    for r in tables.ledgers["AP"]):
                errors.append(f"Invoice '{out['Invoice']}' already exists for vendor '{out['Vendor']}'.")
            out.setdefault("PayTerms", vendor["PayTerms"] if vendor else "")
        if out.get("BankCode") and out["BankCode"] not in tables.bank_codes:
            errors.append(f"Bank code '{out['BankCode']}' does not exist.")
        raw_details = master.get(details_key)
        if not isinstance(raw_details, list) or not raw_details:
            errors.append(f"{where}.{details_key} must hold at least one line.")
            raw_details = []
        out["details"] = [self._detail(kind, d, f"{where}.{details_key}[{i}]", errors)
                          for i, d in enumerate(raw_details)]
        return out

    def _detail(self, kind: str, raw: Any, where: str, errors: list[str]) -> dict[str, Any]:
        detail = _canonical(raw, DETAIL_FIELDS[kind], where, errors)
        for name in REQUIRED[(kind, "detail")]:
            if name != "Amount" and not _text(detail.get(name)):
                errors.append(f"{where}.{name} is required.")
        out: dict[str, Any] = {k: _text(v) for k, v in detail.items() if k != "Amount"}
        out["Amount"] = _amount(detail.get("Amount"), f"{where}.Amount", errors)
        out["WBS2"], out["WBS3"] = blank(out.get("WBS2")), blank(out.get("WBS3"))
        if out.get("WBS1"):
            self._check_wbs(out["WBS1"], out["WBS2"], out["WBS3"], errors)
        if out.get("Account") and self.tables.account(out["Account"]) is None:
            errors.append(f"Account '{out['Account']}' does not exist.")
        if kind == "CR" and out.get("Invoice") and out.get("WBS1"):
            if self.tables.ar_balance(out["WBS1"], out["Invoice"]) is None:
                errors.append(f"Invoice '{out['Invoice']}' does not exist on project '{out['WBS1']}'.")
        return out

    def _check_wbs(self, wbs1: str, wbs2: str, wbs3: str, errors: list[str]) -> None:
        tables = self.tables
        project = tables.wbs(wbs1)
        if project is None:
            errors.append(f"Project '{wbs1}' does not exist.")
            return
        if project["Status"] != "A":
            errors.append(f"Project '{wbs1}' is inactive: it takes no new charges.")
        if wbs2 == BLANK:
            if tables.children(wbs1):
                errors.append(f"Project '{wbs1}' has phases: charge a phase.")
            return
        if tables.wbs(wbs1, wbs2) is None:
            errors.append(f"Phase '{wbs2}' does not exist on project '{wbs1}'.")
            return
        if wbs3 == BLANK:
            if tables.children(wbs1, wbs2):
                errors.append(f"Phase '{wbs2}' of project '{wbs1}' has tasks: charge a task.")
            return
        if tables.wbs(wbs1, wbs2, wbs3) is None:
            errors.append(f"Task '{wbs3}' does not exist on phase '{wbs2}' of project '{wbs1}'.")

    # -- look --------------------------------------------------------------------------------
    def find(self, kind: str, name: str) -> Batch | None:
        return self.unposted.get((kind, name.strip().lower()))

    # -- post --------------------------------------------------------------------------------
    def post(self, body: Any, user: SimUser) -> str:
        """Post one batch; the reply text (a JSON object of pipe-separated lists)."""
        if not isinstance(body, dict) or not isinstance(body.get("parms"), dict):
            raise refuse(400, "The body must be {\"parms\": {...}}.")
        parms: dict[str, Any] = {}
        for key, value in body["parms"].items():
            if key.lower() not in PARMS:
                raise refuse(400, f"Unknown parameter '{key}' in parms.")
            parms[key.lower()] = value
        for name in ("batch", "clientcompany", "period", "transtype"):
            if name not in parms:
                raise refuse(400, f"parms.{name} is required.")
        kind = _text(parms["transtype"]).upper()
        if kind not in ("AP", "CR"):
            raise refuse(400, f"Transaction type '{parms['transtype']}' cannot be posted here.")
        if kind not in user.role.may_post:
            raise refuse(400, f"Your role ({user.role.name}) does not have access to post {LABEL[kind]}.")
        company = _text(parms["clientcompany"])
        if company and company not in self.tables.companies:
            raise refuse(400, f"Company '{company}' does not exist.")
        name = _text(parms["batch"])
        if (kind, name.lower()) in self.posted:
            raise refuse(400, f"Batch '{name}' has already been posted.")
        batch = self.find(kind, name)
        if batch is None:
            raise refuse(400, f"Batch '{name}' was not found.")
        errors: list[str] = []
        period = self._period(parms["period"], errors)
        if not errors and period != batch.period:
            errors.append(f"Batch '{name}' belongs to period {batch.period}, not {period}.")
        if errors:
            raise refuse(400, "; ".join(errors))
        self._to_ledger(batch)
        del self.unposted[(kind, name.lower())]
        self.posted[(kind, name.lower())] = batch
        lists = {"batchList": f"{batch.name}|", "postseqList": f"{batch.post_seq}|",
                 "periodList": f"{batch.period}|", "errorList": ""}
        if kind == "AP":
            lists["voucherList"] = "".join(f"{m['Voucher']}|" for m in batch.masters)
        return json.dumps(lists)

    def _to_ledger(self, batch: Batch) -> None:
        tables = self.tables
        now = self.clock.now()
        batch.post_seq = tables.take_post_seq(batch.period)
        batch.posted, batch.posted_at = True, now
        for master in batch.masters:
            base = {"Period": batch.period, "PostSeq": batch.post_seq, "Batch": batch.name, "TransType": batch.kind,
                    "PostDate": now, "ModDate": now, "TransDate": master["TransDate"],
                    "BankCode": master.get("BankCode", "")}
            if batch.kind == "AP":
                master["Voucher"] = master.get("Voucher") or tables.take_voucher_number()
                pay_date = master.get("PayDate")
                if pay_date is None and master.get("PayTerms", "").isdigit():
                    pay_date = master["InvoiceDate"] + timedelta(days=int(master["PayTerms"]))
                base.update(Vendor=tables.vendor(master["Vendor"])["Vendor"], Invoice=master["Invoice"],
                            Voucher=master["Voucher"], InvoiceDate=master["InvoiceDate"],
                            PayTerms=master.get("PayTerms", ""), PayDate=pay_date, LiabCode=master["LiabCode"])
            else:
                base.update(RefNo=master["RefNo"])
            for seq, detail in enumerate(master["details"], start=1):
                row = {"PKey": tables.take_pkey(batch.kind), **base, "Seq": seq, "WBS1": detail["WBS1"],
                       "WBS2": detail["WBS2"], "WBS3": detail["WBS3"], "Account": detail["Account"],
                       "Amount": detail["Amount"], "Description": detail.get("Description", "")}
                if batch.kind == "AP":
                    row["PONumber"] = detail.get("PONumber", "")
                else:
                    row["Invoice"] = detail.get("Invoice", "")
                    balance = tables.ar_balance(detail["WBS1"], row["Invoice"]) if row["Invoice"] else None
                    if balance is not None:
                        balance["Paid"] += detail["Amount"]
                        balance["Balance"] -= detail["Amount"]
                tables.ledgers[batch.kind].append(row)
                batch.ledger_rows.append(row)
