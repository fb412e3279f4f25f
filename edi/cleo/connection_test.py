"""The admin's "Test connections" for Cleo: a token, then the folder list, and whether the
trading partners' folders exist with the right direction."""
from __future__ import annotations

from typing import Any

from connector.failures import IntegrationFailure
from connector.http import INTERACTIVE_POLICY
from tenants.connection_checks import CheckOutcome

from .client import CleoClient


def cleo_connection_test(connection: Any, **client_options: Any) -> CheckOutcome:
    from edi.models import TradingPartner

    result = CheckOutcome(ok=False)
    with CleoClient(connection, policy=INTERACTIVE_POLICY, **client_options) as client:
        try:
            folders = client.list_folders()
        except IntegrationFailure as exc:
            result.lines.append(f"Failed ({exc.kind}): {exc.message}")
            return result
    result.ok = True
    result.lines.append(f"Logged in to {connection.base_url} as {connection.username}; "
                        f"{len(folders)} folder{'s' if len(folders) != 1 else ''} visible.")
    by_name = {f.name: f for f in folders}
    for partner in TradingPartner.objects.filter(tenant_id=connection.tenant_id, enabled=True):
        for purpose, name, kind in (("uploads to", partner.outbound_folder, "Upload"),
                                    ("polls", partner.inbound_folder, "Download")):
            if not name:
                continue
            folder = by_name.get(name)
            if folder is None:
                result.warnings.append(f"{partner.name}: folder '{name}' (which ml-connector {purpose}) is not visible.")
            elif folder.kind and folder.kind.lower() != kind.lower():
                result.warnings.append(f"{partner.name}: folder '{name}' is a {folder.kind} folder; "
                                       f"ml-connector {purpose} it.")
    return result
