"""`manage.py demo` (what `make demo` runs): migrate, seed, then run the admin, a Celery
worker, beat and the simulators together until Ctrl-C."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from connector.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_seed


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Command(BaseCommand):
    help = "Seed the demo tenant and run the back office, a worker, beat and the simulators."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed-only", action="store_true", help="Migrate and seed, start nothing")

    def _after_start(self, plan, port: int) -> None:
        deadline = time.monotonic() + 60
        for wanted in [port, *plan.wait_for_ports]:
            while not _port_open(wanted):
                if time.monotonic() > deadline:
                    raise CommandError(f"nothing answers on 127.0.0.1:{wanted} after 60 s")
                time.sleep(0.2)
        for hook in plan.after_start:
            hook()

    def handle(self, *args, port: int, seed_only: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        os.environ["DEMO_WEB_PORT"] = str(port)  # for seeders' hooks that give simulators our URLs
        tenant, plan = demo_seed()
        if seed_only:
            self.stdout.write(f"Seeded tenant '{tenant.slug}'.")
            return
        python = sys.executable
        processes = {
            **plan.processes,
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "connector", "worker", "--loglevel=INFO", "--concurrency=2",
                       "--hostname=demo@%h"],
            "beat": [python, "-m", "celery", "-A", "connector", "beat", "--loglevel=INFO",
                     f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}"],
        }
        running: dict[str, subprocess.Popen] = {}
        stop = False

        def _stop(*_):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        try:
            for name, argv in processes.items():
                running[name] = subprocess.Popen(argv, cwd=settings.BASE_DIR)
            self._after_start(plan, port)
            self.stdout.write(self.style.SUCCESS(
                f"\nml-connector is up: http://127.0.0.1:{port}/admin/  login {DEMO_USERNAME} / {DEMO_PASSWORD}\n"
            ))
            for note in plan.notes:
                self.stdout.write(f"  {note}")
            self.stdout.write(f"  Processes: {', '.join(running)}. Ctrl-C stops them all.\n")
            while not stop:
                for name, proc in running.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping the demo.")
                        stop = True
                        break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for proc in running.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in running.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
