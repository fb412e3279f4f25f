from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from django.conf import settings

        # The SQLite file and filesystem broker of the embedded defaults need their folders;
        # made here, by a process that uses them, never by importing settings.
        for folder in settings.EMBEDDED_FOLDERS:
            folder.mkdir(parents=True, exist_ok=True)

        from tenants.connection_checks import register_connection_check
        from tenants.models import VantagepointConnection

        from . import checks  # noqa: F401  (registers the system checks)
        from .vantagepoint.connection_test import vantagepoint_connection_test

        register_connection_check(VantagepointConnection, vantagepoint_connection_test)
