"""Search by any part of a reference, name, file name or external id ("1002" finds DS-1002):
a pg_trgm GIN index on Document.search_text, on PostgreSQL only (SQLite's LIKE is enough
for its sizes). Built CONCURRENTLY, so a large table keeps taking writes meanwhile; hence a
non-atomic migration. The index lives here, not in Document.Meta, because SQLite rebuilds a
table with every index its model declares and knows no GIN.

Then the business columns of existing documents are filled: here when the table is small,
otherwise by `manage.py documents_summarize` (batched, resumable) after the migration.
"""
from django.db import migrations

INDEX = "document_search_trgm"
BACKFILL_HERE_UP_TO = 50_000


def trigram_index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
                          "ON connector_document USING gin (search_text gin_trgm_ops)")


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


def documents_backfill(apps, schema_editor):
    from connector.summary import documents_summarize

    Document = apps.get_model("connector", "Document")
    if Document.objects.filter(search_text="").count() > BACKFILL_HERE_UP_TO:
        print(f"\n  Documents to summarize: more than {BACKFILL_HERE_UP_TO:,}; "
              "run `manage.py documents_summarize` after the migration.")
        return
    documents_summarize(Document.objects.all())


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('connector', '0007_document_summary_and_list_indexes'),
    ]

    operations = [
        migrations.RunPython(trigram_index_create, trigram_index_drop, elidable=False),
        migrations.RunPython(documents_backfill, migrations.RunPython.noop),
    ]
