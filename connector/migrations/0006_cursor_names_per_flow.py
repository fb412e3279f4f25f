"""Cursors are named per flow ("<flow>:<stream>"), so a second flow reading a stream gets its
own place in it: the one stream read so far (ar-810's AR invoices) moves to its new name."""
from django.db import migrations

RENAMES = {"vantagepoint:ar-invoices": "ar-810:vantagepoint:ar-invoices"}


def rename(apps, schema_editor, names):
    SyncCursor = apps.get_model("connector", "SyncCursor")
    for old, new in names.items():
        for cursor in SyncCursor.objects.filter(stream=old):
            if not SyncCursor.objects.filter(tenant_id=cursor.tenant_id, stream=new).exists():
                cursor.stream = new
                cursor.save(update_fields=["stream"])


class Migration(migrations.Migration):
    dependencies = [("connector", "0005_effects_and_document_runs")]

    operations = [
        migrations.RunPython(lambda apps, editor: rename(apps, editor, RENAMES),
                             lambda apps, editor: rename(apps, editor, {v: k for k, v in RENAMES.items()})),
    ]
