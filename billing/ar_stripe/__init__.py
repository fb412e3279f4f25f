"""The ar-stripe flow: a posted Vantagepoint AR invoice becomes a finalized Stripe invoice.

choice.py (which client firms are billed through Stripe, currency, terms), customers.py (the
firm's Stripe customer: mapping, search, create, kept aligned), invoices.py (lines in the
smallest currency unit, the invoice, its items, finalize, credit notes), summary.py (what a
document is to the business, and its links), flow.py (the steps, registered by the app).
"""
AR_STRIPE = "ar-stripe"

# The Stripe invoice's metadata: what the payments flow reads back (keep these keys).
INVOICE_METADATA_KEYS = ("ml_tenant", "ml_document", "vp_invoice", "vp_period", "vp_post_seq", "vp_project",
                         "vp_wbs2", "vp_wbs3", "vp_client_id")
