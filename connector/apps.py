from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


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

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks, which connector.queue sends by name)
        )
        from .vantagepoint.connection_test import vantagepoint_connection_test

        register_connection_check(VantagepointConnection, vantagepoint_connection_test)
        post_migrate.connect(schedules_after_migrate, sender=self, dispatch_uid="connector.schedules_after_migrate")


def schedules_after_migrate(*, using: str = DEFAULT_DB_ALIAS, plan=None, verbosity: int = 1, stdout=None,
                            **kwargs) -> None:
    """After `migrate` has brought the database up to date, every tenant whose connections are
    enabled has its schedules. Not after `flush` (it passes no plan and leaves no tenant), nor
    after a partial or backward migrate (the models would not match the tables)."""
    if plan is None or using != DEFAULT_DB_ALIAS:
        return
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[using])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        if verbosity and stdout:
            stdout.write("Schedules not ensured: migrations remain; run `manage.py schedules_ensure` after them.")
        return
    from .schedules import schedules_ensure

    changes = [c for c in schedules_ensure() if c.change != "unchanged"]
    if verbosity and stdout and changes:
        stdout.write("Schedules: " + "; ".join(str(c) for c in changes))
