"""Failure kinds: what went wrong decides what happens next.

- transient: network, timeout, 429, 5xx. Retried on the long-tail schedule.
- config: bad credentials, a missing role, a login that cannot work. Parked until a human
  fixes the configuration and replays.
- mapping (a config failure): a reference that cannot be resolved; the document waits in
  needs_mapping with the exact missing item.
- data: malformed input or an invalid invoice. Fails with a clear message; raw input kept.
- bug: anything else. Fails with the traceback.

Messages must never contain a secret: they end up in the admin, logs and audit events.
"""
from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    CONFIG = "config"
    DATA = "data"
    BUG = "bug"


class IntegrationFailure(Exception):
    """Base of every failure the engine knows how to classify."""

    kind: FailureKind = FailureKind.BUG

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None,
                 system: str = "", retry_in: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        # Seconds: the failure proved a retry safe sooner than the schedule (a PostTransFile
        # 500 after which the ledger showed nothing posted), connector.retry.
        self.retry_in = retry_in
        self.status = status
        self.system = system

    def __str__(self) -> str:
        prefix = f"{self.system}: " if self.system else ""
        return f"{prefix}{self.message}"


class TransientFailure(IntegrationFailure):
    kind = FailureKind.TRANSIENT


class ConfigFailure(IntegrationFailure):
    kind = FailureKind.CONFIG


class MappingMissing(ConfigFailure):
    """A reference that a human must map (e.g. 'no vendor for sender ZZ:ACME01')."""


class DataFailure(IntegrationFailure):
    kind = FailureKind.DATA


def classify(exc: BaseException) -> FailureKind:
    if isinstance(exc, IntegrationFailure):
        return exc.kind
    return FailureKind.BUG
