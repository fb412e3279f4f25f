"""Every Stripe API path the client uses, in one place (all documented v1 endpoints).

The SDK's typed services would hide these; we name them so the calls recorded on an
Attempt, the simulator's routes and this list can be read side by side. Ids put into a
path are escaped: an id never comes from anywhere but Stripe, but a path must not be
steerable by data.
"""
from __future__ import annotations

from urllib.parse import quote

ACCOUNT = "/v1/account"
CUSTOMERS = "/v1/customers"
CUSTOMER = "/v1/customers/{id}"
CUSTOMER_SEARCH = "/v1/customers/search"
INVOICES = "/v1/invoices"
INVOICE = "/v1/invoices/{id}"
INVOICE_SEARCH = "/v1/invoices/search"
INVOICE_LINES = "/v1/invoices/{id}/lines"
INVOICE_FINALIZE = "/v1/invoices/{id}/finalize"
INVOICE_VOID = "/v1/invoices/{id}/void"
INVOICE_ITEMS = "/v1/invoiceitems"
INVOICE_PAYMENTS = "/v1/invoice_payments"  # since 2025-03-31.basil
CREDIT_NOTES = "/v1/credit_notes"
PAYMENT_INTENT = "/v1/payment_intents/{id}"
CHARGE = "/v1/charges/{id}"
REFUND = "/v1/refunds/{id}"
EVENT = "/v1/events/{id}"

PAGE_SIZE = 100  # Stripe's maximum; its default is 10


def path(template: str, object_id: str) -> str:
    return template.format(id=quote(object_id, safe=""))
