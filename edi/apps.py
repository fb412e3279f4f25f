from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "edi"
    verbose_name = "EDI (Cleo, X12 810)"

    def ready(self) -> None:
        from tenants.connection_checks import register_connection_check
        from tenants.models import CleoConnection

        from .cleo.connection_test import cleo_connection_test

        register_connection_check(CleoConnection, cleo_connection_test)
        # Each flow registers itself with the engine on import (connector.flows.register).
        from .outbound import flow  # noqa: F401  (registers ar-810)
        from .inbound import flow  # noqa: F401  (registers 810-ap)
