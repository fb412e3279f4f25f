"""Build a tenant's Vantagepoint and Cleo clients: one place, so the flows never construct
them by hand and tests can pace them on a simulator's clock.

Routing to a simulator is done by URL (connector.http.mount_transport); `client_options`
only swaps how clients wait (sleep, limiter, clock), which tests set so that rate limits
and backoff advance a simulated clock instead of real time.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from connector.failures import ConfigFailure
from connector.vantagepoint import VantagepointClient
from tenants.models import Tenant

from .cleo import CleoClient

_options: dict[str, dict[str, Any]] = {"vantagepoint": {}, "cleo": {}}


@contextlib.contextmanager
def client_options(*, vantagepoint: dict[str, Any] | None = None, cleo: dict[str, Any] | None = None) -> Iterator[None]:
    saved = {k: dict(v) for k, v in _options.items()}
    _options["vantagepoint"].update(vantagepoint or {})
    _options["cleo"].update(cleo or {})
    try:
        yield
    finally:
        _options.clear()
        _options.update(saved)


def vantagepoint_client(tenant: Tenant) -> VantagepointClient:
    connection = getattr(tenant, "vantagepointconnection", None)
    if connection is None or not connection.enabled:
        raise ConfigFailure(f"tenant {tenant.slug} has no enabled Vantagepoint connection", system="vantagepoint")
    return VantagepointClient(connection, **_options["vantagepoint"])


def cleo_client(tenant: Tenant) -> CleoClient:
    connection = getattr(tenant, "cleoconnection", None)
    if connection is None or not connection.enabled:
        raise ConfigFailure(f"tenant {tenant.slug} has no enabled Cleo connection", system="cleo")
    return CleoClient(connection, **_options["cleo"])
