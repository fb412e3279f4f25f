# A per-partner maximum inbound file size; refused files are named in the ledger.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('edi', '0005_outbound_control_invoice_number'),
    ]

    operations = [
        migrations.AddField(
            model_name='tradingpartner',
            name='max_inbound_bytes',
            field=models.PositiveBigIntegerField(default=20971520, help_text="A larger file from this partner's folder is refused: left in Cleo, named in the file ledger with the reason, taken in after the maximum is raised and the file replayed. 20 MB by default.", verbose_name='largest file taken in (bytes)'),
        ),
        migrations.AlterField(
            model_name='inboundfile',
            name='status',
            field=models.CharField(choices=[('stored', 'Stored'), ('imported', 'Imported'), ('same_content', 'Same bytes as an earlier file'), ('malformed', 'Malformed'), ('acknowledgment', '997 applied'), ('no_invoices', 'No 810 in it'), ('too_large', "Refused: larger than the partner's maximum")], default='stored', max_length=20),
        ),
    ]
