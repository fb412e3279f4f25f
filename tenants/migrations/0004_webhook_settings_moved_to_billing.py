"""StripeConnection's webhook secrets and UUID now live in billing (WebhookEndpoint,
WebhookSecret); billing's 0002 copied them over before they are dropped here."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0003_stripe_connection_version_base_rate'),
        ('billing', '0002_webhook_settings_from_stripe_connections'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='stripeconnection',
            name='webhook_secrets',
        ),
        migrations.RemoveField(
            model_name='stripeconnection',
            name='webhook_uuid',
        ),
    ]
