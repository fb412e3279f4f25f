"""The webhook settings move from StripeConnection to billing without losing a secret or the URL."""
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("tenants", "0002_tenant_address"), ("billing", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_each_stripe_connection_becomes_an_endpoint_with_its_uuid_and_secrets():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    tenant = old.get_model("tenants", "Tenant").objects.create(name="Acme", slug="acme")
    webhook_uuid = uuid.uuid4()
    old.get_model("tenants", "StripeConnection").objects.create(
        tenant=tenant, secret_key="sk_test_x", webhook_uuid=webhook_uuid,
        webhook_secrets="whsec_oldSECRET0000001\n  whsec_newSECRET0000002 \n\n")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from billing.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.uuid == webhook_uuid and endpoint.tenant_id == tenant.pk
    assert sorted(s.secret for s in endpoint.secrets.all()) == ["whsec_newSECRET0000002", "whsec_oldSECRET0000001"]
    assert all(s.expires_at is None for s in endpoint.secrets.all())
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM billing_webhooksecret")
        assert all(row[0].startswith("gAAAAA") for row in cursor.fetchall()), "encrypted again on the way"
