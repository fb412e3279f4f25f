"""`manage.py rotate_credentials`: re-encrypt every stored secret under the newest key."""
from django.core.management.base import BaseCommand

from tenants.rotation import credentials_rotate


class Command(BaseCommand):
    help = "Re-encrypt every stored credential and token under the first key in CREDENTIAL_KEYS."

    def handle(self, *args, **options):
        for table, count in credentials_rotate().items():
            self.stdout.write(f"{table}: {count} row{'s' if count != 1 else ''} re-encrypted")
