"""`manage.py sandbox NAME --port PORT`: serve one simulator on 127.0.0.1."""
from django.core.management.base import BaseCommand, CommandError

from sandbox.servers import SIMULATORS, create_simulator, serve


class Command(BaseCommand):
    help = "Serve a simulator (vantagepoint, cleo, stripe) on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(SIMULATORS))
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--seed-size", type=int, default=None, help="How much seed data to generate")
        parser.add_argument("--verbose-http", action="store_true", help="Log every request")

    def handle(self, *args, name, port, seed_size, verbose_http, **options):
        kwargs = {} if seed_size is None else {"seed_size": seed_size}
        try:
            app = create_simulator(name, **kwargs)
            server = serve(app, port=port, quiet=not verbose_http)
        except OSError as exc:
            raise CommandError(f"cannot serve {name} on 127.0.0.1:{port}: {exc}") from exc
        self.stdout.write(f"{name} simulator on http://127.0.0.1:{port}/ (Ctrl-C stops it)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
