"""Move each StripeConnection's webhook settings into a WebhookEndpoint of its tenant.

The endpoint keeps the connection's webhook_uuid, so the URL already pasted into Stripe
keeps working; each line of webhook_secrets becomes a WebhookSecret with no expiry (all were
accepted before). The historical models use the real EncryptedTextField: values are
decrypted from the old column and encrypted again into the new one, never seen in between.
"""
from django.db import migrations

# Only the columns this migration knows: tenants' later migrations (which add columns to
# StripeConnection) may stand before or after this one in a plan, and one unapplied first
# must not be selected.
COLUMNS = ("id", "tenant_id", "webhook_uuid", "webhook_secrets")


def forward(apps, schema_editor):
    StripeConnection = apps.get_model("tenants", "StripeConnection")
    WebhookEndpoint = apps.get_model("billing", "WebhookEndpoint")
    WebhookSecret = apps.get_model("billing", "WebhookSecret")
    for connection in StripeConnection.objects.only(*COLUMNS):
        secrets = [line.strip() for line in connection.webhook_secrets.splitlines() if line.strip()]
        endpoint, _ = WebhookEndpoint.objects.get_or_create(
            uuid=connection.webhook_uuid,
            defaults={"tenant_id": connection.tenant_id, "description": "Moved from the Stripe connection"},
        )
        for secret in secrets:
            WebhookSecret.objects.create(endpoint=endpoint, secret=secret)


def backward(apps, schema_editor):
    StripeConnection = apps.get_model("tenants", "StripeConnection")
    WebhookEndpoint = apps.get_model("billing", "WebhookEndpoint")
    for connection in StripeConnection.objects.only(*COLUMNS):
        endpoint = WebhookEndpoint.objects.filter(tenant_id=connection.tenant_id).order_by("created_at").first()
        if endpoint is None:
            continue
        connection.webhook_uuid = endpoint.uuid
        connection.webhook_secrets = "\n".join(s.secret for s in endpoint.secrets.order_by("created_at"))
        connection.save(update_fields=["webhook_uuid", "webhook_secrets"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("tenants", "0002_tenant_address"),
    ]
    operations = [migrations.RunPython(forward, backward)]
