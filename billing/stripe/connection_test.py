"""The admin's "Test connections" for Stripe: the key works, whose account it opens, test or
live mode, and the API version the connection pins (checked by Stripe on the same call)."""
from __future__ import annotations

from typing import Any

import stripe

from connector.failures import IntegrationFailure
from connector.http import INTERACTIVE_POLICY
from tenants.connection_checks import CheckOutcome

from .client import StripeBillingClient
from .errors import key_hint

# Since this version an invoice names its payments instead of a charge; the flows read them so.
FIRST_SUPPORTED_VERSION = "2025-03-31.basil"


def stripe_connection_test(connection: Any, **client_options: Any) -> CheckOutcome:
    result = CheckOutcome(ok=False)
    try:
        with StripeBillingClient(connection, policy=INTERACTIVE_POLICY, **client_options) as client:
            account = client.account()
            mode = "live" if client.livemode else "test"
    except IntegrationFailure as exc:
        result.lines.append(f"Failed ({exc.kind}): {exc.message}")
        return result
    result.ok = True
    restricted = " (restricted key)" if connection.secret_key.startswith("rk_") else ""
    result.lines.append(f"Secret key ending in {key_hint(connection.secret_key)}{restricted} accepted, {mode} mode.")
    name = f"{account.name}, " if account.name else ""
    result.lines.append(f"Account {account.id} ({name}{account.country or '?'}, default currency "
                        f"{account.default_currency.upper() or '?'}).")
    result.lines.append(f"API version pinned: {connection.api_version} (stripe-python {stripe.VERSION} speaks "
                        f"{stripe.api_version}).")
    if connection.api_version < FIRST_SUPPORTED_VERSION:
        result.warnings.append(f"API version {connection.api_version} is older than {FIRST_SUPPORTED_VERSION}: the "
                               "payment flows read invoice payments, which older versions do not have. Pin "
                               f"{stripe.api_version}.")
    if mode == "live" and connection.api_base.rstrip("/") != "https://api.stripe.com":
        result.warnings.append(f"A live key is used against {connection.api_base}, not Stripe.")
    return result
