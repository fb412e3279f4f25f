"""`manage.py demo_partner --cleo-port N`: the demo's customer partner answering our 810s with
997s (edi/demo_partner.py). Started by `make demo`."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from edi.demo_partner import partner_run


class Command(BaseCommand):
    help = "Answer the 810s in the served Cleo simulator's Outbound folder with 997s (one rejection)."

    def add_arguments(self, parser):
        parser.add_argument("--cleo-port", type=int, required=True)
        parser.add_argument("--every", type=float, default=3.0, help="Seconds between looks at the folder")

    def handle(self, *args, cleo_port: int, every: float, **options):
        partner_run(f"http://127.0.0.1:{cleo_port}", every=every,
                    log=lambda line: (self.stdout.write(line), self.stdout.flush()))
