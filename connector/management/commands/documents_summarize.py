"""`manage.py documents_summarize [--tenant SLUG] [--all]`: fill the business columns
(reference, client or vendor, partner, amount, search words) of documents received before
the flows summarized them, in batches. `migrate` does it itself for a small table; a large
one is left to this command, run once after the migration (it resumes where it stopped)."""
from django.core.management.base import BaseCommand, CommandError

from connector.models import Document
from connector.summary import documents_summarize
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Fill the business columns and search words of documents that have none (or of all, with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant)")
        parser.add_argument("--all", action="store_true", help="Summarize every document again, not only new ones")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, tenant: str | None = None, all: bool = False, batch: int = 500, **options):
        documents = Document.objects.all()
        if tenant:
            found = Tenant.objects.filter(slug=tenant).first()
            if found is None:
                raise CommandError(f"no tenant with slug '{tenant}'")
            documents = documents.filter(tenant=found)
        changed = documents_summarize(documents, batch=batch, only_missing=not all)
        self.stdout.write(f"{changed} document(s) summarized")
