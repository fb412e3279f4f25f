"""Deterministic seed data at any size: the same (size, seed) always gives the same tables.

`size` is the number of client firms; vendors, projects and invoices scale with it. What the
flows and their tests lean on is always there once size >= 3:
- a project without phases, one with phases, and one whose first phase has tasks, so the
  lowest-level charging rule can be exercised;
- AR invoices posted in postings of one to four invoices that share the exact same
  PostDate (as a billing run posts them), so a cursor on PostDate meets ties;
- an invoice number reused in a later period on another project: a number alone is not a key;
- some invoices modified after posting (ModDate later than PostDate);
- some paid in full or in part through cash receipts, so AR balances differ from totals;
- client firms with addresses and pay terms, invoice lines with description, quantity,
  unit price and amount: what an X12 810 needs.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .tables import BLANK, CENT, Tables, period_of

# The simulator's clock starts here; every seeded posting is earlier.
START = datetime(2024, 6, 17, 9, 0, 0)
FIRST_POSTING = datetime(2024, 1, 8, 8, 0, 0)
# Periods are defined through 2035 so postings dated today (the demo, real clocks) land in one.
DEFINED_PERIODS = {year * 100 + month for year in range(2024, 2036) for month in range(1, 13)}
CLOSED_PERIODS = {202401, 202402, 202403, 202404}
OPEN_PERIOD = 202406

ACCOUNTS = [
    ("1010.00", "Operating Cash", "Asset"), ("1200.00", "Accounts Receivable", "Asset"),
    ("2010.00", "Accounts Payable", "Liability"), ("4010.00", "Fee Revenue", "Revenue"),
    ("4020.00", "Reimbursable Revenue", "Revenue"), ("5010.00", "Direct Consultants", "Expense"),
    ("5020.00", "Reimbursable Travel", "Expense"), ("6010.00", "Office Supplies", "Expense"),
]
AR_ACCOUNT = "1200.00"
BANK_CODES = {"OPER", "PAYROLL"}
LIABILITY_CODES = {"AP"}
COMPANIES = {"01"}

_FIRST = ["Harbor", "Summit", "Granite", "Cedar", "Northfield", "Bluewater", "Ironwood", "Lakeside", "Redstone",
          "Westbrook", "Silverline", "Oakridge", "Pinecrest", "Stonegate", "Riverbend", "Clearview"]
_SECOND = ["Engineering", "Architects", "Partners", "Builders", "Consulting", "Surveying", "Developments",
           "Holdings", "Design Group", "Structures"]
_STREETS = ["Main St", "Market St", "Harbor Blvd", "Elm Ave", "Commerce Dr", "Industrial Pkwy", "Park Ave"]
_CITIES = [("Boston", "MA", "02110"), ("Denver", "CO", "80202"), ("Austin", "TX", "78701"),
           ("Portland", "OR", "97204"), ("Chicago", "IL", "60601"), ("Raleigh", "NC", "27601")]
_PROJECT_KINDS = ["Office Renovation", "Bridge Inspection", "Site Survey", "Campus Master Plan",
                  "Water Treatment Upgrade", "Parking Structure", "Library Expansion", "Transit Study"]
_PHASES = [("01", "Schematic Design"), ("02", "Design Development"), ("03", "Construction Administration")]
_TASKS = [("001", "Field Work"), ("002", "Reporting")]
_RATES = [Decimal(r) for r in ("95.00", "125.00", "150.00", "185.00", "210.00")]


def _firm(rng: random.Random, index: int, *, code: str, client: bool, vendor: str) -> dict[str, Any]:
    city, state, zip_code = _CITIES[index % len(_CITIES)]
    name = f"{_FIRST[index % len(_FIRST)]} {_SECOND[(index * 7 + 3) % len(_SECOND)]}"
    if index >= len(_FIRST):
        name += f" {index // len(_FIRST) + 1}"
    return {
        "ClientID": f"{rng.getrandbits(128):032X}", "Client": code if client else "", "Name": name,
        "ClientInd": "Y" if client else "N", "VendorInd": "Y" if vendor else "N", "Vendor": vendor,
        "Status": "A", "Address1": f"{100 + rng.randrange(9800)} {rng.choice(_STREETS)}",
        "Address2": f"Suite {rng.randrange(100, 900)}" if index % 3 == 0 else "", "City": city, "State": state,
        "ZIP": zip_code, "Country": "US", "Phone": f"555-{rng.randrange(1000, 9999)}",
        "Email": f"ap@{name.split()[0].lower()}{index}.example", "PayTerms": "30", "ModDate": FIRST_POSTING,
    }


def _projects(rng: random.Random, index: int, client: dict[str, Any]) -> list[dict[str, Any]]:
    wbs1 = f"{2023001 + index}.00"
    shape = index % 3  # 0: no phases, 1: phases, 2: phases and tasks under the first phase
    base = {"WBS1": wbs1, "ClientID": client["ClientID"], "BillingClientID": client["ClientID"], "Status": "A",
            "ChargeType": "R", "StartDate": FIRST_POSTING - timedelta(days=30 + index), "ModDate": FIRST_POSTING}
    name = f"{client['Name'].split()[0]} {_PROJECT_KINDS[index % len(_PROJECT_KINDS)]}"
    rows = [dict(base, WBS2=BLANK, WBS3=BLANK, Name=name, SubLevel="Y" if shape else "N")]
    if shape:
        for number, (wbs2, phase) in enumerate(_PHASES[: 2 + index % 2]):
            has_tasks = shape == 2 and number == 0
            rows.append(dict(base, WBS2=wbs2, WBS3=BLANK, Name=phase, SubLevel="Y" if has_tasks else "N"))
            if has_tasks:
                rows.extend(dict(base, WBS2=wbs2, WBS3=wbs3, Name=task, SubLevel="N") for wbs3, task in _TASKS)
    return rows


def chargeable(tables: Tables, wbs1: str) -> list[tuple[str, str]]:
    """The lowest levels of a project: where time and expenses may be charged."""
    levels = []
    phases = tables.children(wbs1)
    if not phases:
        return [(BLANK, BLANK)]
    for phase in phases:
        tasks = tables.children(wbs1, phase["WBS2"])
        if tasks:
            levels.extend((phase["WBS2"], task["WBS3"]) for task in tasks)
        else:
            levels.append((phase["WBS2"], BLANK))
    return levels


def invoice_lines(rng: random.Random, tables: Tables, wbs1: str, count: int) -> list[dict[str, Any]]:
    levels = chargeable(tables, wbs1)
    lines = []
    for number in range(count):
        wbs2, wbs3 = levels[number % len(levels)]
        phase = tables.wbs(wbs1, wbs2)
        if number % 3 == 2:
            lines.append({"WBS2": wbs2, "WBS3": wbs3, "Account": "4020.00", "Description": "Reimbursable travel",
                          "Quantity": Decimal("1"),
                          "UnitPrice": (Decimal(rng.randrange(2000, 90000)) / 100).quantize(CENT)})
        else:
            label = phase["Name"] if phase and wbs2 != BLANK else "Professional services"
            lines.append({"WBS2": wbs2, "WBS3": wbs3, "Account": "4010.00", "Description": f"{label} - labor",
                          "Quantity": Decimal(rng.randrange(4, 81)), "UnitPrice": rng.choice(_RATES)})
    return lines


def build_tables(size: int = 12, *, seed: int = 4) -> Tables:
    if size < 1:
        raise ValueError("seed size must be at least 1")
    rng = random.Random(f"vantagepoint-sandbox-{seed}-{size}")
    tables = Tables(bank_codes=set(BANK_CODES), liability_codes=set(LIABILITY_CODES), companies=set(COMPANIES),
                    defined_periods=set(DEFINED_PERIODS), closed_periods=set(CLOSED_PERIODS))
    tables.accounts = [{"Account": a, "Name": n, "Type": t, "Status": "A"} for a, n, t in ACCOUNTS]

    clients = []
    for i in range(size):
        vendor_too = i % 7 == 6  # some firms are both client and vendor
        clients.append(_firm(rng, i, code=f"C{i + 1:05d}", client=True, vendor=f"V{i + 1:05d}" if vendor_too else ""))
    vendors = [_firm(rng, size + j, code="", client=False, vendor=f"V{90001 + j}") for j in range(max(2, size // 2))]
    tables.firms = clients + vendors
    if size >= 5:
        clients[4]["Status"] = "I"

    for i in range(size):
        tables.projects.extend(_projects(rng, i, clients[i % len(clients)]))
    top_levels = [p for p in tables.projects if p["WBS2"] == BLANK]
    if size >= 4:
        top_levels[3]["Status"] = "I"  # an inactive project: no new charges

    _seed_invoices(rng, tables, top_levels, count=3 * size)
    _seed_payments(tables)
    _seed_vouchers(rng, tables, vendors, top_levels)
    return tables


def _seed_invoices(rng: random.Random, tables: Tables, projects: list[dict[str, Any]], count: int) -> None:
    span = (START - timedelta(days=3) - FIRST_POSTING).total_seconds()
    postings: list[int] = []
    while sum(postings) < count:
        postings.append(4 if len(postings) == 1 else rng.randint(1, 4))
    postings[-1] -= sum(postings) - count
    first_invoice: tuple[str, int, str] | None = None
    reused = False
    made = 0
    for number, size in enumerate(postings):
        moment = FIRST_POSTING + timedelta(seconds=span * number / max(1, len(postings)))
        post_date = moment.replace(microsecond=rng.randrange(1000) * 1000)
        period = period_of(post_date)
        post_seq = tables.take_post_seq(period)
        for _ in range(size):
            project = projects[(made * 5 + number) % len(projects)]
            invoice = tables.take_invoice_number()
            if first_invoice is None:
                first_invoice = (invoice, period, project["WBS1"])
            elif not reused and period != first_invoice[1] and project["WBS1"] != first_invoice[2]:
                invoice, reused = first_invoice[0], True  # numbering restarted: the same number again
                tables.invoice_numbers -= 1
            lines = invoice_lines(rng, tables, project["WBS1"], 1 + (made % 4))
            trans_date = (post_date - timedelta(days=made % 4)).date()
            rows = tables.post_invoice(invoice=invoice, project=project, lines=lines, trans_date=trans_date,
                                       post_date=post_date, period=period, post_seq=post_seq,
                                       batch=f"BILL{period}{post_seq:03d}")
            if made % 5 == 4:  # edited after posting
                for row in rows:
                    row["ModDate"] = post_date + timedelta(days=2, minutes=made)
            made += 1


def _seed_payments(tables: Tables) -> None:
    for number, balance in enumerate(tables.ar_balances):
        if number % 3 != 1 and number % 4 != 3:
            continue
        amount = balance["OriginalAmt"] if number % 3 == 1 else (balance["OriginalAmt"] / 2).quantize(CENT)
        paid_on = balance["InvoiceDate"] + timedelta(days=20)
        post_date = datetime(paid_on.year, paid_on.month, paid_on.day, 16, 30)
        if post_date >= START:
            continue
        period = period_of(post_date)
        post_seq = tables.take_post_seq(period)
        tables.ledgers["CR"].append({
            "PKey": tables.take_pkey("CR"), "Period": period, "PostSeq": post_seq, "Batch": f"SEEDCR{number:04d}",
            "TransType": "CR", "RefNo": f"CHK{1001 + number}", "TransDate": paid_on, "BankCode": "OPER",
            "PostDate": post_date, "ModDate": post_date, "Seq": 1, "WBS1": balance["WBS1"], "WBS2": BLANK,
            "WBS3": BLANK, "Invoice": balance["Invoice"], "Account": AR_ACCOUNT, "Amount": amount,
            "Description": "Payment received",
        })
        balance["Paid"] = amount
        balance["Balance"] = balance["OriginalAmt"] - amount


def _seed_vouchers(rng: random.Random, tables: Tables, vendors: list[dict[str, Any]],
                   projects: list[dict[str, Any]]) -> None:
    for number, vendor in enumerate(vendors):
        project = projects[number % len(projects)]
        wbs2, wbs3 = chargeable(tables, project["WBS1"])[0]
        invoice_date = (FIRST_POSTING + timedelta(days=10 * number)).date()
        post_date = datetime(invoice_date.year, invoice_date.month, invoice_date.day, 11, 15)
        period = period_of(post_date)
        post_seq = tables.take_post_seq(period)
        tables.ledgers["AP"].append({
            "PKey": tables.take_pkey("AP"), "Period": period, "PostSeq": post_seq, "Batch": f"SEEDAP{number:04d}",
            "TransType": "AP", "Vendor": vendor["Vendor"], "Invoice": f"INV-{5000 + number}",
            "Voucher": tables.take_voucher_number(), "InvoiceDate": invoice_date, "TransDate": invoice_date,
            "PayTerms": vendor["PayTerms"], "PayDate": invoice_date + timedelta(days=30), "LiabCode": "AP",
            "BankCode": "OPER", "PostDate": post_date, "ModDate": post_date, "Seq": 1, "WBS1": project["WBS1"],
            "WBS2": wbs2, "WBS3": wbs3, "Account": "5010.00",
            "Amount": (Decimal(rng.randrange(10000, 500000)) / 100).quantize(CENT),
            "Description": "Consultant services", "PONumber": "",
        })
