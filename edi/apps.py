from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "edi"
    verbose_name = "EDI (Cleo, X12 810)"

    def ready(self) -> None:
        from django.db.models import Q

        from connector.demo import register_seeder
        from connector.retention import PayloadPurge, register_purge
        from tenants.connection_checks import register_connection_check
        from tenants.models import CleoConnection

        # Each flow registers itself with the engine on import (connector.flows.register):
        # cleo-inbox (the job that takes partners' files in), 810-ap and ar-810.
        from . import inbox  # noqa: F401
        from .cleo.connection_test import cleo_connection_test
        from .demo import edi_demo_seed
        from .inbound import flow as inbound_flow  # noqa: F401
        from .outbound import flow as outbound_flow  # noqa: F401

        register_connection_check(CleoConnection, cleo_connection_test)
        register_seeder(edi_demo_seed)
        # The file ledger's bytes follow the tenant's retention; a file still being taken in is kept.
        register_purge(PayloadPurge(
            name="cleo-files", model="edi.InboundFile", clear={"raw": b""}, aged_by="received_at",
            finished=Q(status__in=["imported", "acknowledgment", "same_content", "no_invoices"]),
            failed=Q(status="malformed")))
