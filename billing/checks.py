"""System checks of billing's settings: a bad value stops every process at start, named."""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Error


def unknown_endpoint_retention_check(app_configs=None, **kwargs) -> list[Error]:
    """The retention of webhook deliveries to no known endpoint: payloads cleared after at
    least a day, rows deleted no sooner than their payloads."""
    payload = settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS
    rows = settings.RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS
    if payload < 1:
        return [Error(f"RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS must be at least 1 (days), not {payload}",
                      id="billing.E001")]
    if rows < payload:
        return [Error(f"RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS ({rows}) must not be shorter than "
                      f"RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS ({payload}): rows are deleted after their payload "
                      "is cleared", id="billing.E002")]
    return []
