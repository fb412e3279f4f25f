"""A file in the ledger is its Cleo id; the hand-made stage markers are gone (0003 moved them)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("edi", "0003_inbox_documents_and_effects")]

    operations = [
        migrations.RemoveConstraint(model_name="inboundfile", name="one_ledger_entry_per_file"),
        migrations.RemoveField(model_name="inboundfile", name="ack_file_name"),
        migrations.RemoveField(model_name="inboundfile", name="ack_text"),
        migrations.RemoveField(model_name="inboundfile", name="ack_uploaded"),
        migrations.RemoveField(model_name="inboundfile", name="picked_up"),
        migrations.AlterField(model_name="inboundfile", name="cleo_file_id", field=models.CharField(max_length=64)),
        migrations.AddIndex(
            model_name="inboundfile",
            index=models.Index(fields=["tenant", "folder", "name"], name="inbound_file_by_name"),
        ),
        migrations.AddConstraint(
            model_name="inboundfile",
            constraint=models.UniqueConstraint(fields=("tenant", "folder", "cleo_file_id"),
                                               name="one_ledger_entry_per_cleo_file"),
        ),
    ]
