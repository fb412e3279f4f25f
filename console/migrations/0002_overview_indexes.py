"""Indexes the overview reads through (console/overview.py), on the engine's tables: the
documents waiting for a human, a partial index small enough to count from (index-only) at a
million documents, and each tenant's newest successful cycle of a flow. Raw SQL in the console's own
migrations: the engine's models do not change for a page that reads them."""
from django.db import migrations

WAITING = "('needs_mapping', 'failed', 'rejected')"


class Migration(migrations.Migration):

    dependencies = [
        ("connector", "0008_document_search_trigram"),
        ("console", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS console_document_waiting ON connector_document (flow, state, tenant_id) "
            f"WHERE state IN {WAITING}",
            "DROP INDEX IF EXISTS console_document_waiting",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS console_syncrun_succeeded ON connector_syncrun (tenant_id, flow, started_at) "
            "WHERE status = 'succeeded'",
            "DROP INDEX IF EXISTS console_syncrun_succeeded",
        ),
    ]
