"""A simulated Cleo Integration Cloud tenant: the contract our Cleo client is tested against.

    sim = create_app(rate_limit=None)          # options: see CleoSimulator
    client = httpx.Client(base_url="http://cleo.test", transport=sim.transport())
    sim.put_file(INBOUND_FOLDER, "ACME_810_1.edi", b"ISA*...")
    sim.files(OUTBOUND_FOLDER)                 # what our client uploaded

Imports nothing from connector/, edi/ or billing/: it must not share our client's mistakes.
"""
from typing import Any

from .app import (
    DEFAULT_TENANT,
    INBOUND_FOLDER,
    OUTBOUND_FOLDER,
    PROCESSED_FOLDER,
    SERVICE_PASSWORD,
    SERVICE_USERNAME,
    SSO_USERNAME,
    TOTP_PASSWORD,
    TOTP_USERNAME,
    CleoSimulator,
)
from .faults import FaultKind
from .limit import SLIDING_WINDOW, TOKEN_BUCKET
from .state import DOWNLOAD, UPLOAD

__all__ = [
    "DEFAULT_TENANT", "DOWNLOAD", "INBOUND_FOLDER", "OUTBOUND_FOLDER", "PROCESSED_FOLDER", "SERVICE_PASSWORD",
    "SERVICE_USERNAME", "SLIDING_WINDOW", "SSO_USERNAME", "TOKEN_BUCKET", "TOTP_PASSWORD", "TOTP_USERNAME",
    "UPLOAD", "CleoSimulator", "FaultKind", "create_app",
]


def create_app(**options: Any) -> CleoSimulator:
    """The entry point sandbox/servers.py calls; unknown options are ignored."""
    return CleoSimulator(**options)
