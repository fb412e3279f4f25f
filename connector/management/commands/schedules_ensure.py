"""`manage.py schedules_ensure [--tenant SLUG]`: every tenant whose connections are enabled gets
its flows' periodic tasks; a tenant or connection turned off has them paused. The same service
`migrate` and the tenant admin call; an edited cadence is never touched."""
from django.core.management.base import BaseCommand, CommandError

from connector.schedules import schedules_ensure
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create, pause or resume the periodic task of each (tenant, flow) to match the tenants' connections."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant)")

    def handle(self, *args, tenant: str | None = None, **options):
        tenants = None
        if tenant:
            tenants = list(Tenant.objects.filter(slug=tenant))
            if not tenants:
                raise CommandError(f"no tenant with slug '{tenant}'")
        changes = schedules_ensure(tenants=tenants)
        for change in changes:
            task = change.schedule.periodic_task
            self.stdout.write(f"{task.name}: {change.change} ({'running' if task.enabled else 'paused'}, {task.scheduler})")
        counts: dict[str, int] = {}
        for change in changes:
            counts[change.change] = counts.get(change.change, 0) + 1
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "none"
        self.stdout.write(f"{len(changes)} schedule(s): {summary}")
