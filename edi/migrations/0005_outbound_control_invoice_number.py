# BIG02 beside the control numbers: a second 810 with a number the partner has is held.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('edi', '0004_ledger_by_cleo_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboundcontrol',
            name='invoice_number',
            field=models.CharField(blank=True, help_text='BIG02', max_length=30),
        ),
        migrations.AddIndex(
            model_name='outboundcontrol',
            index=models.Index(fields=['partner', 'invoice_number'], name='outbound_control_by_big02'),
        ),
    ]
