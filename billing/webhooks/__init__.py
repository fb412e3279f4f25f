"""Stripe webhooks: the signature check, the delivery ledger and the hand-off to the engine."""
