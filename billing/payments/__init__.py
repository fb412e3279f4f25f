"""Stripe payments to Vantagepoint cash receipts: the "stripe-payment" flow.

Every accepted webhook event is one engine Document (billing/webhooks/ makes it); this
package processes it. The event is a trigger only: `fetch` re-fetches its object from Stripe
and reads what was received or paid back (payments.py), `match` finds the Vantagepoint
invoice and project the Stripe invoice came from (matching.py), `post` makes one cash
receipt batch per payment or refund, keyed on that payment, never on the event (receipts.py),
and `ar_status` reads the invoice's AR balance back. flow.py registers it.
"""
