"""The admin's "Test connections": each system's client registers how to test its
connection (connector/ for Vantagepoint, edi/ for Cleo), so tenants/ imports no client.

A result is saved on the connection (last_tested_at, last_test_result); it holds what was
done and found, never a secret. It also becomes the connection's last call outcome (the
overview's connections panel: connector.call_status), written whatever the throttle says.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from connector.call_status import call_status_record
from connector.failures import IntegrationFailure

from .models import Connection


@dataclass
class CheckOutcome:
    ok: bool
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = "OK" if self.ok else "FAILED"
        return "\n".join([head, *self.lines, *(f"Warning: {w}" for w in self.warnings)])


ConnectionCheck = Callable[[Any], Any]  # returns an object with ok, lines, warnings
_checks: dict[type[Connection], ConnectionCheck] = {}


def register_connection_check(model: type[Connection], check: ConnectionCheck) -> None:
    _checks[model] = check


def connection_check_run(connection: Connection) -> CheckOutcome:
    check = _checks.get(type(connection))
    problem = "test failed"
    if check is None:
        outcome = CheckOutcome(ok=False, lines=[f"No test is available for {connection._meta.verbose_name}."])
    else:
        try:
            result = check(connection)
            outcome = CheckOutcome(ok=bool(result.ok), lines=list(result.lines), warnings=list(result.warnings))
        except IntegrationFailure as exc:
            outcome = CheckOutcome(ok=False, lines=[f"Failed ({exc.kind}): {exc}"])
            problem = f"test failed: {exc.status or type(exc).__name__}"
    type(connection).objects.filter(pk=connection.pk).update(last_tested_at=timezone.now(),
                                                             last_test_result=outcome.summary())
    if check is not None:  # no test, no call: the last real call's outcome stands
        call_status_record(tenant_id=connection.tenant_id, system=connection_system(type(connection)),
                           ok=outcome.ok, problem=problem, force=True)
    return outcome


def connection_system(model: type[Connection]) -> str:
    """The system a connection model serves, as clients name it: vantagepoint, cleo, stripe."""
    return model._meta.model_name.removesuffix("connection")
