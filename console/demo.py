"""What the console adds to `make demo`: alerts for the demo tenant, sent through the console
email backend (so they print in the demo's output), and a silence rule on ar-810."""
from __future__ import annotations

from connector.demo import DemoPlan
from tenants.models import Tenant

from .models import AlertSettings, SilenceRule

DEMO_RECIPIENT = "finance@demo-engineering.example"


def console_demo_seed(tenant: Tenant, plan: DemoPlan) -> None:
    alert_settings, _ = AlertSettings.objects.get_or_create(tenant=tenant, defaults={"email_recipients": DEMO_RECIPIENT})
    SilenceRule.objects.get_or_create(alert_settings=alert_settings, flow="ar-810",
                                      defaults={"minutes_without_success": 10})
    plan.notes.append(f"Alerts for {tenant.name} go to {DEMO_RECIPIENT}: the console email backend prints them here. "
                      "Health: /health/")
