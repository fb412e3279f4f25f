"""Our Stripe client: stripe-python through the engine's HTTP policy, thin typed helpers for
the billing flows, errors as failure kinds, and the connection test.

    with stripe_client(tenant) as stripe:
        customer = stripe.find_customer(metadata={"mlc_tenant": "acme", "vp_firm": "F-100"})
        invoice = stripe.create_invoice(customer_id=customer.id, currency="usd", days_until_due=30,
                                        idempotency_key=key)
"""
from .client import StripeBillingClient, stripe_client, stripe_client_options
from .errors import (
    StripeCardDeclined,
    StripeIdempotencyConflict,
    StripeKeyRefused,
    StripeNotFound,
    StripeOutcomeUnknown,
    StripeRequestRefused,
    StripeVersionRefused,
    key_hint,
)
from .money import major_units, minor_unit_exponent, minor_units, unit_amount_decimal
from .resources import (
    Address,
    CustomerDetails,
    InvoiceLine,
    StripeAccount,
    StripeCharge,
    StripeCreditNote,
    StripeCustomer,
    StripeEvent,
    StripeInvoice,
    StripeInvoiceItem,
    StripeInvoiceLine,
    StripeInvoicePayment,
    StripePaymentIntent,
    StripeRefund,
)

__all__ = [
    "Address", "CustomerDetails", "InvoiceLine", "StripeAccount", "StripeBillingClient", "StripeCardDeclined",
    "StripeCharge", "StripeCreditNote", "StripeCustomer", "StripeEvent", "StripeIdempotencyConflict", "StripeInvoice",
    "StripeInvoiceItem", "StripeInvoiceLine", "StripeInvoicePayment", "StripeKeyRefused", "StripeNotFound",
    "StripeOutcomeUnknown", "StripePaymentIntent", "StripeRefund", "StripeRequestRefused", "StripeVersionRefused",
    "key_hint", "major_units", "minor_unit_exponent", "minor_units", "stripe_client", "stripe_client_options",
    "unit_amount_decimal",
]
