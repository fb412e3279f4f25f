"""Billing's entry points from outside: the Stripe webhook, one URL per endpoint."""
from django.urls import path

from .webhooks.views import stripe_webhook

app_name = "billing"

urlpatterns = [
    # A str, not a uuid converter: a malformed key is an unknown endpoint, kept in the ledger.
    path("stripe/webhooks/<str:endpoint_key>/", stripe_webhook, name="stripe-webhook"),
]
