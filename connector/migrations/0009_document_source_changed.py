# Documents whose source record changed after they went out (an AR invoice edited after its 810).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connector', '0008_document_search_trigram'),
    ]

    operations = [
        migrations.AddField(
            model_name='document',
            name='source_changed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='document',
            index=models.Index(condition=models.Q(('source_changed_at__isnull', False)), fields=['tenant', 'flow'], name='document_source_changed'),
        ),
    ]
