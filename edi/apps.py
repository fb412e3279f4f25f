from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "edi"
    verbose_name = "EDI (Cleo, X12 810)"

    def ready(self) -> None:
        from connector.demo import register_seeder
        from tenants.connection_checks import register_connection_check
        from tenants.models import CleoConnection

        from .cleo.connection_test import cleo_connection_test
        from .demo import edi_demo_seed

        # Each flow registers itself with the engine on import (connector.flows.register).
        from .inbound import flow as inbound_flow  # noqa: F401  (registers 810-ap)
        from .outbound import flow as outbound_flow  # noqa: F401  (registers ar-810)

        register_connection_check(CleoConnection, cleo_connection_test)
        register_seeder(edi_demo_seed)
