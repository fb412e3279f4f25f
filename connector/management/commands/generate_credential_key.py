"""Print a new Fernet key for CREDENTIAL_KEYS (put it first, then run rotate_credentials)."""
from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print a new key for CREDENTIAL_KEYS."
    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
