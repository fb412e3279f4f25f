"""Which client firms a tenant bills through Stripe, in which currency, on which terms.

A tenant chooses (billing.StripeBilling): every client firm, or only those listed; the
invoices of any other firm are ignored with the reason said on the document. The currency
is the listed firm's own or the tenant's; the days until due come from the tenant's setting,
else the invoice's own due date, else the firm's pay terms (Vantagepoint keeps days there),
else 30.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from connector.vantagepoint.records import Firm
from tenants.models import Tenant

from ..models import StripeBilledClient, StripeBilling, StripeClients

DEFAULT_DAYS_UNTIL_DUE = 30


@dataclass(frozen=True)
class StripeChoice:
    """The tenant's answer for one firm: billed (and how), or why not."""

    billed: bool
    reason: str = ""
    currency: str = "usd"


def stripe_choice(*, tenant: Tenant, client_id: str, client_code: str = "") -> StripeChoice:
    billing = StripeBilling.objects.filter(tenant=tenant).first()
    if billing is None:
        return StripeChoice(False, "no client firm of this tenant is billed through Stripe (Billing › Stripe billing "
                                   "has no settings for it)")
    wanted = {client_id.lower(), client_code.lower()} - {""}
    listed = next((c for c in StripeBilledClient.objects.filter(billing=billing) if c.client_id.lower() in wanted),
                  None)
    currency = ((listed.currency if listed else "") or billing.currency or "usd").lower()
    if billing.clients == StripeClients.ALL or listed is not None:
        return StripeChoice(True, currency=currency)
    return StripeChoice(False, f"client {client_code or client_id} is not billed through Stripe: the tenant bills only "
                               "the client firms listed under Billing › Stripe billing", currency)


def days_until_due(*, tenant: Tenant, firm: Firm, invoice_date: date, due_date: date | None) -> int:
    setting = StripeBilling.objects.filter(tenant=tenant).values_list("days_until_due", flat=True).first()
    if setting is not None:
        return setting
    if due_date is not None:
        return max((due_date - invoice_date).days, 0)
    terms = firm.pay_terms.strip()
    return int(terms) if terms.isdigit() else DEFAULT_DAYS_UNTIL_DUE
