"""The admin's "Test connections" for Cleo: a token, then the folder list, and whether the
trading partners' folders exist with the right direction."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.failures import IntegrationFailure
from connector.http import HttpPolicy

from .client import CleoClient

# An admin is waiting: fail fast rather than back off for minutes.
TEST_POLICY = HttpPolicy(read_timeout=15.0, max_attempts=2, retry_after_cap=5.0)


@dataclass
class CleoTestResult:
    ok: bool
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def cleo_connection_test(connection: Any, **client_options: Any) -> CleoTestResult:
    from edi.models import TradingPartner

    result = CleoTestResult(ok=False)
    with CleoClient(connection, policy=TEST_POLICY, **client_options) as client:
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
