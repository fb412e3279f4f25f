# Effects (one row per document, step and name), the run a document counts on, the done state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connector', '0004_run_abandoned_and_flow_schedule'),
    ]

    operations = [
        migrations.AddField(
            model_name='document',
            name='queued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='document',
            name='run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='documents', to='connector.syncrun'),
        ),
        migrations.AlterField(
            model_name='document',
            name='state',
            field=models.CharField(choices=[('received', 'Received'), ('mapped', 'Mapped'), ('sent', 'Sent'), ('posted', 'Posted'), ('acknowledged', 'Acknowledged'), ('rejected', 'Rejected'), ('duplicate', 'Duplicate'), ('needs_mapping', 'Needs mapping'), ('retrying', 'Retrying'), ('failed', 'Failed'), ('ignored', 'Ignored'), ('done', 'Done')], default='received', max_length=20),
        ),
        migrations.AlterField(
            model_name='synccursor',
            name='stream',
            field=models.CharField(help_text='flow:stream, e.g. ar-810:vantagepoint:ar-invoices', max_length=100),
        ),
        migrations.CreateModel(
            name='Effect',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('step', models.CharField(max_length=40)),
                ('name', models.CharField(max_length=60)),
                ('key', models.CharField(db_index=True, help_text='Idempotency key: the same on every try', max_length=255)),
                ('state', models.CharField(choices=[('intended', 'Intended (not made yet)'), ('unknown', 'Unknown (may have happened: look before acting)'), ('confirmed', 'Confirmed')], default='intended', max_length=10)),
                ('intent', models.JSONField(blank=True, default=dict, help_text='What was fixed when it was declared')),
                ('result', models.JSONField(blank=True, help_text='What the outside system answered or showed', null=True)),
                ('confirmed_by', models.CharField(blank=True, help_text="'do' (made it) or 'look' (found it made)", max_length=10)),
                ('calls', models.PositiveIntegerField(default=0, help_text='How many times it was attempted')),
                ('error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('document', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='effects', to='connector.document')),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'constraints': [models.UniqueConstraint(fields=('document', 'step', 'name'), name='one_effect_per_step_name')],
            },
        ),
    ]
