"""A search scoped to a tenant answered by one index: the trigram GIN index on
Document.search_text (migration 0008) becomes a GIN index on (tenant_id, search_text), with
btree_gin for the tenant column, on PostgreSQL only.

Why: a word common elsewhere and absent from a tenant ("inv" for a tenant that only receives
supplier invoices) has half a million trigram matches; ANDing their bitmap with the tenant's
250,000 rows took 120 ms at a million documents, where one GIN scan that intersects the
tenant's posting list with the word's takes 13 ms (connector/search.py). A GIN index answers
a condition on any subset of its columns, so the superuser's searches (no tenant) use it as
they used the old one, at the same size (115 MB at a million documents): the old index is
dropped. Built CONCURRENTLY, so a large table keeps taking writes; hence non-atomic.
"""
from django.db import migrations

OLD_INDEX = "document_search_trgm"
INDEX = "document_search_tenant_trgm"


def index_by_tenant_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
                          "ON connector_document USING gin (tenant_id, search_text gin_trgm_ops)")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_INDEX}")


def index_by_tenant_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD_INDEX} "
                          "ON connector_document USING gin (search_text gin_trgm_ops)")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('connector', '0011_connection_status'),
    ]

    operations = [
        migrations.RunPython(index_by_tenant_create, index_by_tenant_drop, elidable=False),
    ]
