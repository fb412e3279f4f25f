from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (Stripe)"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.checks import register
        from django.db.models import Q

        from connector.retention import PayloadPurge, UnownedRows, register_purge, register_unowned
        from tenants.connection_checks import register_connection_check
        from tenants.models import StripeConnection

        from .stripe.connection_test import stripe_connection_test

        register_connection_check(StripeConnection, stripe_connection_test)
        # Webhook bodies follow the tenant's retention: accepted ones as finished, refused ones
        # (kept to say why) as failures; one still being handled is kept.
        register_purge(PayloadPurge(
            name="stripe-webhook-bodies", model="billing.WebhookDelivery", clear={"body": b""}, aged_by="received_at",
            finished=Q(outcome__in=["accepted", "duplicate"]), failed=~Q(outcome__in=["received", "accepted", "duplicate"])))
        # Deliveries refused before any endpoint was known have no tenant: periods of their own.
        register_unowned(UnownedRows(
            name="stripe-webhook-unknown-endpoint", model="billing.WebhookDelivery", clear={"body": b"", "headers": {}},
            aged_by="received_at", payload_days=lambda: settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS,
            row_days=lambda: settings.RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS))
        from .checks import unknown_endpoint_retention_check

        register(unknown_endpoint_retention_check)
        self.ar_stripe_ready()
        self._payments_ready()
        self._demo_ready()

    def ar_stripe_ready(self) -> None:
        """The ar-stripe flow: posted AR invoices to finalized Stripe invoices."""
        from .ar_stripe.flow import ar_stripe_register

        ar_stripe_register()

    def _payments_ready(self) -> None:
        """stripe-payment: webhook events to Vantagepoint cash receipts (billing/payments/)."""
        from .payments import flow as payments_flow  # noqa: F401 - registers the flow on import

    def _demo_ready(self) -> None:
        """One seeder for billing's demo: the Stripe simulator and connection, both flows' parts."""
        from connector.demo import register_seeder

        from .demo import billing_demo_seed

        register_seeder(billing_demo_seed, order=150)  # after edi's, which connects Vantagepoint
