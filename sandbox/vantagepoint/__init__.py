"""A Deltek Vantagepoint simulator: a plain WSGI app, as strict and quirky as the real API.

No real tenant is reachable, so this is the contract the client's tests run against. It
imports nothing from connector/, edi/ or billing/ and needs no Django: a simulator that
shared the client's code could not catch the client's mistakes.

Served at `/<Instance>/api` (default `/Sandbox/api`): `manage.py sandbox vantagepoint --port
PORT [--seed-size N]`, or in process with `httpx.WSGITransport(app=create_app())`.

Endpoints (below the API root; (doc) published by Deltek, (assumed) our guess):
- `POST /token`: password and refresh grants, OAuth-shaped errors (doc); see auth.py.
- `GET /firm`, `GET /firm/{ClientID}`: clients and vendors in one hub (doc).
- `GET /project` (project level only), `GET /project/{WBS1}`, `GET /project/{WBS1}/phase`,
  `GET /project/{WBS1}/phase/{WBS2}/task`: the WBS as nested resources (assumed). Every row
  carries WBS1/WBS2/WBS3 with a blank level as a single space, and `SubLevel` Y/N.
- `GET /account`: the chart of accounts (assumed).
- `GET /PSALedger/IN`: posted AR invoices, one row per invoice line, the invoice's header
  (Invoice, Period, PostSeq, TransDate, DueDate, PostDate, ModDate, BillingClientID)
  repeated on each line with Seq, WBS1/2/3, Account, Description, Quantity, UnitPrice,
  Amount (assumed: the ledger is doc, its line-level columns are not).
- `GET /PSALedger/AP`, `GET /PSALedger/CR`: posted vouchers and cash receipts, one row per
  detail line, with the `Batch` they were posted from (doc; `Batch` column assumed).
- `GET /ARReview/ARBalance`: per (WBS1, Invoice): OriginalAmt, Paid (assumed), Balance (doc).
- `POST /DataEntry/apControl`, `POST /DataEntry/crControl`, `PUT /DataEntry/PostTransFile`
  (doc); `GET /DataEntry/{ap|cr}Control/{Batch}` reads an unposted batch (assumed).

Collections take `filterHash[i][name|value|opp|condition|seq]` (operators = != > >= < <=
like), `order=Col_A|Col_D`, `fieldFilter=A,B`, and `page`+`pageSize` (1-based) or
`offset`+`limit`; see query.py for the SQL Server habits copied. Answers are bare arrays
(a POST too, with 201), flags "Y"/"N", dates zone-less with milliseconds, Period YYYYMM.

Control API (a `VantagepointSimulator` is the WSGI callable): `clock` (advance it to expire
1799-second tokens), `faults` (faults.py), users and API authorizations (`add_user`,
`set_login_enabled`, `set_password_grant_allowed`, `expire_access_tokens`,
`revoke_refresh_tokens`), periods (`close_period`, `open_period`), data
(`add_posted_invoice`, `touch_invoice`, `invoice_keys`, `ledger`, `tables`), and inspection
(`requests`, `requests_to`, `grants`, `posted_batches`, `unposted_batches`).
Seeded logins: see the SANDBOX_* constants; `DISABLED_USERNAME` cannot log in,
`FEES_HIDDEN_USERNAME` has a role whose invoice amounts read 0, and
`NO_PASSWORD_GRANT_CLIENT_ID` has "Allow Password Grant Type" off.
"""
from __future__ import annotations

from typing import Any

from .app import (
    DISABLED_USERNAME,
    FEES_HIDDEN_USERNAME,
    NO_PASSWORD_GRANT_CLIENT_ID,
    NO_PASSWORD_GRANT_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DATABASE,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    RequestRecord,
    VantagepointSimulator,
)
from .auth import FEES_HIDDEN, FULL_ACCESS, Role
from .seed import AR_ACCOUNT, START

__all__ = [
    "AR_ACCOUNT", "DISABLED_USERNAME", "FEES_HIDDEN", "FEES_HIDDEN_USERNAME", "FULL_ACCESS",
    "NO_PASSWORD_GRANT_CLIENT_ID", "NO_PASSWORD_GRANT_CLIENT_SECRET", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET",
    "SANDBOX_DATABASE", "SANDBOX_PASSWORD", "SANDBOX_USERNAME", "START", "RequestRecord", "Role",
    "VantagepointSimulator", "create_app",
]


def create_app(**options: Any) -> VantagepointSimulator:
    """The WSGI app; options as VantagepointSimulator takes them (seed_size, instance, sleep...)."""
    return VantagepointSimulator(**options)
