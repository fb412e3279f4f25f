import connector.fields
import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('connector', '0003_cursor_help'),
        ('tenants', '0002_tenant_address'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('description', models.CharField(blank=True, help_text='e.g. Live mode, account acct_…', max_length=200)),
                ('enabled', models.BooleanField(default=True, help_text='A disabled endpoint answers 404 to every delivery')),
                ('tolerance_seconds', models.PositiveIntegerField(default=300, help_text="How far a signature's timestamp may be from now, in the past or the future")),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='webhook_endpoints', to='tenants.tenant')),
            ],
            options={
                'ordering': ['tenant__name', 'created_at'],
            },
        ),
        migrations.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stripe_id', models.CharField(help_text='evt_…', max_length=255)),
                ('type', models.CharField(max_length=100)),
                ('object_id', models.CharField(blank=True, help_text='data.object.id: what to re-fetch', max_length=255)),
                ('livemode', models.BooleanField(default=False)),
                ('api_version', models.CharField(blank=True, max_length=40)),
                ('stripe_created', models.DateTimeField(blank=True, help_text='When Stripe created the event', null=True)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('queued_at', models.DateTimeField(blank=True, db_index=True, help_text='When its processing was last sent to the broker', null=True)),
                ('document', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='connector.document')),
                ('endpoint', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='billing.webhookendpoint')),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookSecret',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('secret', connector.fields.EncryptedTextField()),
                ('expires_at', models.DateTimeField(blank=True, help_text='Empty: valid until rolled', null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('created_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='secrets', to='billing.webhookendpoint')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('path', models.CharField(help_text='The URL path as requested', max_length=300)),
                ('method', models.CharField(max_length=10)),
                ('remote_addr', models.GenericIPAddressField(blank=True, null=True)),
                ('headers', models.JSONField(blank=True, default=dict)),
                ('body', models.BinaryField(blank=True)),
                ('size', models.PositiveBigIntegerField(default=0, help_text='Bytes received; more than the body when truncated')),
                ('received_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('outcome', models.CharField(choices=[('received', 'Received (being handled)'), ('accepted', 'Accepted: new event'), ('duplicate', 'Accepted: event already received'), ('unknown_endpoint', 'Unknown or disabled endpoint'), ('method_not_allowed', 'Method not allowed'), ('no_signature', 'Stripe-Signature header missing'), ('malformed_signature', 'Stripe-Signature header malformed'), ('signature_mismatch', 'No signature matches a secret'), ('stale', 'Timestamp too old'), ('future', 'Timestamp in the future'), ('not_json', 'Body is not a JSON event'), ('too_large', 'Body too large'), ('error', 'Failed while handling')], default='received', max_length=20)),
                ('status_code', models.PositiveSmallIntegerField(blank=True, help_text='What we answered', null=True)),
                ('verified', models.BooleanField(default=False, help_text="The signature matched one of the endpoint's secrets")),
                ('reason', models.TextField(blank=True)),
                ('signed_at', models.DateTimeField(blank=True, help_text="The signature's timestamp (t=)", null=True)),
                ('traceback', models.TextField(blank=True)),
                ('tenant', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
                ('endpoint', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='billing.webhookendpoint')),
                ('event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='billing.webhookevent')),
                ('secret', models.ForeignKey(blank=True, db_index=False, help_text='The secret whose signature matched', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='billing.webhooksecret')),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
                'ordering': ['-received_at', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='webhookevent',
            index=models.Index(fields=['tenant', 'created_at'], name='event_tenant_created'),
        ),
        migrations.AddConstraint(
            model_name='webhookevent',
            constraint=models.UniqueConstraint(fields=('endpoint', 'stripe_id'), name='one_event_per_endpoint_and_id'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['tenant', 'received_at'], name='delivery_tenant_received'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['endpoint', 'received_at'], name='delivery_endpoint_received'),
        ),
    ]
