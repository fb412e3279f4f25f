"""The admin's "Test connection" for Vantagepoint: a token, one read, and a visibility probe.

The probe exists because Vantagepoint does not refuse a field the API user's role may not
see: it returns 0. An integration that reads fees of $0 posts zero-amount 810s and Stripe
invoices without a single error, so the test looks for it up front: when every recent
invoice's lines read 0, it compares with the AR balance of one of them (or says that it
could not) and warns.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from connector.failures import IntegrationFailure
from connector.http import INTERACTIVE_POLICY, HttpPolicy
from tenants.connection_checks import CheckOutcome

from . import endpoints
from .client import VantagepointClient
from .query import order_param, page_params
from .records import ZERO, invoices_from_rows

PROBE_ROWS = 100
ConnectionTestResult = CheckOutcome


def vantagepoint_connection_test(connection: Any, *, transport: httpx.BaseTransport | None = None,
                                 policy: HttpPolicy | None = None,
                                 sleep: Callable[[float], None] = time.sleep) -> ConnectionTestResult:
    result = ConnectionTestResult(ok=False)
    with VantagepointClient(connection, transport=transport, policy=policy or INTERACTIVE_POLICY, sleep=sleep) as client:
        try:
            client.session.login()
            result.lines.append(f"Logged in to {connection.base_url} as {connection.username} "
                                f"(database {connection.database}).")
            firms = client.session.rows(endpoints.FIRMS, page_params(1, 1))
            result.lines.append(f"Read firms: OK ({'at least one' if firms else 'none'} visible).")
        except IntegrationFailure as exc:
            result.lines.append(f"Failed ({exc.kind}): {exc.message}")
            return result
        result.ok = True
        try:
            _probe_money_fields(client, result)
        except IntegrationFailure as exc:
            result.warnings.append(f"The field-visibility probe could not run ({exc.kind}): {exc.message}")
    return result


def _probe_money_fields(client: VantagepointClient, result: ConnectionTestResult) -> None:
    rows = client.session.rows(endpoints.AR_INVOICE_LEDGER,
                               page_params(1, PROBE_ROWS) + order_param("PostDate", "PKey", descending=True))
    invoices = invoices_from_rows(rows)
    if not invoices:
        result.lines.append("No posted AR invoice yet: invoice amounts could not be checked.")
        return
    if any(line.amount != ZERO for invoice in invoices for line in invoice.lines):
        result.lines.append(f"Invoice amounts visible ({len(invoices)} recent invoices checked).")
        return
    sample = invoices[0]
    balance = client.ar_balance(sample.invoice, wbs1=sample.project)
    if balance is not None and (balance.original_amount != ZERO or balance.balance != ZERO):
        result.warnings.append(
            f"Invoice amounts read 0 for the API user, but the AR balance of invoice {sample.invoice} is "
            f"{balance.original_amount:,.2f}: the user's role hides billing amounts. Give the role access to "
            "invoice amounts (fees) in Vantagepoint before enabling the flows."
        )
    else:
        result.warnings.append(
            f"Every amount of the {len(invoices)} most recent invoices reads 0: the API user's role probably "
            "hides money fields. Check the role's field security in Vantagepoint before enabling the flows."
        )
