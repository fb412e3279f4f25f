from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (Stripe)"

    def ready(self) -> None:
        from tenants.connection_checks import register_connection_check
        from tenants.models import StripeConnection

        from .stripe.connection_test import stripe_connection_test

        register_connection_check(StripeConnection, stripe_connection_test)
