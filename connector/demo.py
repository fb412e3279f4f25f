"""What `make demo` seeds and starts. Flows add their own demo data and simulators by
registering here from their AppConfig.ready(), so the engine never imports them."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from tenants.models import Role, Tenant, TenantMembership

DEMO_USERNAME = "admin"
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "ml-connector-demo")


@dataclass
class DemoPlan:
    """Extra processes the demo runs (name → argv) and lines it prints at start."""

    processes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Ports the demo waits for before running `after_start` (e.g. a simulator's).
    wait_for_ports: list[int] = field(default_factory=list)
    # Run once every process is up: put files into a simulator, start a first cycle.
    after_start: list[Callable[[], None]] = field(default_factory=list)


Seeder = Callable[[Tenant, DemoPlan], None]
_seeders: list[tuple[int, Seeder]] = []


def register_seeder(seeder: Seeder, *, order: int = 100) -> None:
    if all(s is not seeder for _, s in _seeders):
        _seeders.append((order, seeder))


def demo_seed() -> tuple[Tenant, DemoPlan]:
    """Idempotent: safe to run at every start."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    tenant, _ = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Demo Engineering LLP",
                                                                    "time_zone": "America/New_York"})
    TenantMembership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.FINANCE_ADMIN})
    plan = DemoPlan()
    for _, seeder in sorted(_seeders, key=lambda pair: pair[0]):
        seeder(tenant, plan)
    return tenant, plan
