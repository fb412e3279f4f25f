"""Outbound control numbers indexed (OutboundControl); each ledger entry may point to the
cleo-inbox Document that carries its stages (filled by 0003)."""
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("connector", "0006_cursor_names_per_flow"),
        ("edi", "0001_initial"),
        ("tenants", "0002_tenant_address"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboundControl",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("interchange", models.PositiveBigIntegerField(help_text="ISA13")),
                ("group", models.PositiveBigIntegerField(help_text="GS06")),
                ("set_control", models.PositiveBigIntegerField(help_text="ST02")),
                ("allocated_at", models.DateTimeField(default=django.utils.timezone.now,
                                                      help_text="Also the 810's ISA/GS date and time")),
                ("document", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                  related_name="outbound_control", to="connector.document")),
                ("partner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="outbound_controls", to="edi.tradingpartner")),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                             to="tenants.tenant")),
            ],
            options={
                "indexes": [models.Index(fields=["partner", "group", "set_control"], name="outbound_control_by_997")],
                "constraints": [models.UniqueConstraint(fields=("partner", "interchange", "group", "set_control"),
                                                        name="one_810_per_control_numbers")],
            },
        ),
        migrations.AddField(
            model_name="inboundfile",
            name="document",
            field=models.OneToOneField(blank=True, help_text="Its stages, attempts and effects", null=True,
                                       on_delete=django.db.models.deletion.SET_NULL, related_name="inbound_file",
                                       to="connector.document"),
        ),
    ]
