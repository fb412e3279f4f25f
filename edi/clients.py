"""The tenant's Cleo client: only edi/ talks to Cleo, so its factory lives here. Everything
else (the Vantagepoint factory, the `client_options` test hook) is the engine's:
connector/clients.py."""
from __future__ import annotations

from connector.clients import enabled_connection, options_for
from tenants.models import Tenant

from .cleo import CleoClient


def cleo_client(tenant: Tenant) -> CleoClient:
    connection = enabled_connection(tenant, "cleoconnection", "cleo", "Cleo")
    return CleoClient(connection, **options_for("cleo"))
