"""`manage.py sync FLOW --tenant SLUG`: one polling cycle with its summary. The same service
the scheduled task calls, inline: every document the cycle hands out is processed here, before
the summary is printed (the scheduled task queues them for the workers instead)."""
from django.core.management.base import BaseCommand, CommandError

from connector.flows import all_flows
from connector.models import SyncRunStatus, Trigger
from connector.sync import sync_run_execute
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Run one cycle of a flow for one tenant and print its summary."

    def add_arguments(self, parser):
        parser.add_argument("flow", help="Flow name, e.g. ar-810, cleo-inbox or 810-ap")
        parser.add_argument("--tenant", required=True, help="Tenant slug")

    def handle(self, *args, flow: str, tenant: str, **options):
        known = {f.name for f in all_flows() if f.has_cycle}
        if flow not in known:
            raise CommandError(f"unknown flow '{flow}'; known: {', '.join(sorted(known)) or 'none'}")
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug '{tenant}'")
        run = sync_run_execute(tenant=tenant_obj, flow_name=flow, trigger=Trigger.MANUAL, inline=True)
        if run is None:
            raise CommandError(f"another run of {flow} for {tenant_obj.slug} is in progress; nothing was done")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items())) or "nothing seen"
        status = "Succeeded, nothing new (counted on the schedule, no run kept)" if run.quiet \
            else run.get_status_display()
        self.stdout.write(f"{flow} for {tenant_obj.slug}: {status} — {counts}")
        if run.cursor_before or run.cursor_after:
            self.stdout.write(f"cursor: {run.cursor_before or '(start)'} → {run.cursor_after or '(unchanged)'}")
        if run.progress:
            self.stdout.write(run.progress)
        if run.status == SyncRunStatus.FAILED:
            raise CommandError(run.error.splitlines()[0] if run.error else "the cycle failed")
