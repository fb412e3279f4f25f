from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "edi"
    verbose_name = "EDI (Cleo, X12 810)"

    def ready(self) -> None:
        # Each flow registers itself with the engine on import (connector.flows.register).
        pass
