"""Times as a tenant reads them: in its own zone, with the zone shown."""
from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime, tzinfo
from functools import lru_cache


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def common_zone(names: Iterable[str]) -> str:
    """The zone of a set of tenants: theirs when they share one, else UTC."""
    unique = set(names)
    return unique.pop() if len(unique) == 1 else "UTC"


def local_time(value: datetime | None, zone_name: str | None, *, seconds: bool = False) -> str:
    """e.g. "2026-06-01 10:03 EDT"; "never" for no time."""
    if value is None:
        return "never"
    local = value.astimezone(zone(zone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
