"""A tenant's outside-system clients, built in one place, and the test hook that paces them.

Every flow asks here (or, for a system only one package talks to, in that package: the Cleo
factory lives in edi/clients.py) instead of constructing clients by hand, so:

- building one is cheap: the HTTP connection pool and its SSL context underneath are shared
  per process and per what they were built from (connector.http.shared_http_client), so a
  step that builds a client does not load the CA bundle again;
- tests route a base URL to a simulator (connector.http.mount_transport) and, through
  `client_options`, swap how clients wait (sleep, rate limiter, clock) so that rate limits
  and backoff advance a simulated clock instead of real time.

    with client_options(vantagepoint={"sleep": lambda s: None}, cleo={"limiter": limiter}):
        with vantagepoint_client(tenant) as vp:
            vp.firm("C00001")

`client_options` takes one keyword per system (any name: a Stripe factory reads
`options_for("stripe")`); the options are the client class's keyword arguments.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tenants.models import Tenant

from .failures import ConfigFailure
from .vantagepoint import VantagepointClient

_options: dict[str, dict[str, Any]] = {}


@contextlib.contextmanager
def client_options(**systems: dict[str, Any] | None) -> Iterator[None]:
    """Within the block, clients of each named system are built with these extra keyword
    arguments (merged over any set by an enclosing block)."""
    saved = {name: dict(values) for name, values in _options.items()}
    for name, values in systems.items():
        _options.setdefault(name, {}).update(values or {})
    try:
        yield
    finally:
        _options.clear()
        _options.update(saved)


def options_for(system: str) -> dict[str, Any]:
    """The extra keyword arguments `client_options` set for `system` (usually none)."""
    return dict(_options.get(system, {}))


def enabled_connection(tenant: Tenant, attribute: str, system: str, label: str) -> Any:
    """The tenant's connection for a system, or a config failure saying it is missing or off."""
    connection = getattr(tenant, attribute, None)  # a missing one-to-one raises, getattr turns it into None
    if connection is None or not connection.enabled:
        raise ConfigFailure(f"tenant {tenant.slug} has no enabled {label} connection", system=system)
    return connection


def vantagepoint_client(tenant: Tenant) -> VantagepointClient:
    """The tenant's Vantagepoint client (tokens are cached on its connection row)."""
    connection = enabled_connection(tenant, "vantagepointconnection", "vantagepoint", "Vantagepoint")
    return VantagepointClient(connection, **options_for("vantagepoint"))


__all__ = ["client_options", "enabled_connection", "options_for", "vantagepoint_client"]
