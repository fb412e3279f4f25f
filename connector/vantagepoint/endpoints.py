"""Every Vantagepoint API path the connector uses, relative to the customer's base URL.

Kept in one module so a difference found at a real customer is a one-line change.
Marks as in docs/SYSTEMS.md: (doc) published by Deltek, (seen) in public integration code,
(assumed) our best guess, to be confirmed on a real tenant.
"""
from __future__ import annotations

from urllib.parse import quote

TOKEN = "/token"  # (doc) password and refresh grants
FIRMS = "/firm"  # (doc) clients and vendors
PROJECTS = "/project"  # (doc) project level rows
AR_INVOICE_LEDGER = "/PSALedger/IN"  # (doc) ledger; (assumed) one row per invoice line with its header
AP_LEDGER = "/PSALedger/AP"  # (doc)
CASH_RECEIPT_LEDGER = "/PSALedger/CR"  # (doc)
AR_BALANCE = "/ARReview/ARBalance"  # (doc)
AP_BATCH = "/DataEntry/apControl"  # (doc)
CASH_RECEIPT_BATCH = "/DataEntry/crControl"  # (doc)
POST_TRANS_FILE = "/DataEntry/PostTransFile"  # (doc)
ACCOUNTS = "/account"  # (assumed) the GL chart: Account, Name, Type, Status


def _segment(value: str) -> str:
    return quote(value.strip(), safe="")


def firm(client_id: str) -> str:
    return f"{FIRMS}/{_segment(client_id)}"  # (doc)


def project(wbs1: str) -> str:
    return f"{PROJECTS}/{_segment(wbs1)}"  # (doc)


def project_phases(wbs1: str) -> str:
    return f"{project(wbs1)}/phase"  # (assumed)


def phase_tasks(wbs1: str, wbs2: str) -> str:
    return f"{project_phases(wbs1)}/{_segment(wbs2)}/task"  # (assumed)


def unposted_batch(batch_path: str, batch: str) -> str:
    """An unposted batch in data entry, by name (assumed)."""
    return f"{batch_path}/{_segment(batch)}"
