from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from tenants.connection_checks import register_connection_check
        from tenants.models import VantagepointConnection

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks, which connector.queue sends by name)
        )
        from .vantagepoint.connection_test import vantagepoint_connection_test

        register_connection_check(VantagepointConnection, vantagepoint_connection_test)
