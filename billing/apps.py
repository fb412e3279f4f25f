from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (Stripe)"

    def ready(self) -> None:
        from django.db.models import Q

        from connector.retention import PayloadPurge, register_purge
        from tenants.connection_checks import register_connection_check
        from tenants.models import StripeConnection

        from .stripe.connection_test import stripe_connection_test

        register_connection_check(StripeConnection, stripe_connection_test)
        # Webhook bodies follow the tenant's retention: accepted ones as finished, refused ones
        # (kept to say why) as failures; one still being handled is kept.
        register_purge(PayloadPurge(
            name="stripe-webhook-bodies", model="billing.WebhookDelivery", clear={"body": b""}, aged_by="received_at",
            finished=Q(outcome__in=["accepted", "duplicate"]), failed=~Q(outcome__in=["received", "accepted", "duplicate"])))
        self.ar_stripe_ready()
        self._payments_ready()

    def ar_stripe_ready(self) -> None:
        """The ar-stripe flow: posted AR invoices to finalized Stripe invoices."""
        from connector.demo import register_seeder

        from .ar_stripe.flow import ar_stripe_register
        from .demo import stripe_demo_seed

        ar_stripe_register()
        register_seeder(stripe_demo_seed, order=150)  # after edi's, which connects Vantagepoint

    def _payments_ready(self) -> None:
        """stripe-payment: webhook events to Vantagepoint cash receipts (billing/payments/)."""
        from connector.demo import register_seeder

        from .payments import flow as payments_flow  # noqa: F401 - registers the flow on import
        from .payments.demo import payments_demo_seed

        register_seeder(payments_demo_seed, order=160)  # after ar-stripe's, which makes the invoices it pays
