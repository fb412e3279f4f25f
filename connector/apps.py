from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
