"""How the admin shows engine records to people: times in the tenant's zone with the zone
named, ages, money, and structured values (counts, external ids, HTTP calls, a mapped
record) as tables instead of JSON.

Plain functions returning safe HTML, shared by every admin page; no queries.
"""
from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

EMPTY = "-"
# Nested values deeper than this are shown as text: a page, not a tree explorer.
MAX_DEPTH = 4
MAX_ROWS = 200


@lru_cache(maxsize=128)
def zone(name: str | None) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_time(value: datetime | None, zone_name: str | None, *, seconds: bool = False) -> str:
    """e.g. "2026-06-01 10:03 EDT": the tenant's wall clock, with its zone."""
    if value is None:
        return EMPTY
    local = value.astimezone(zone(zone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def tenant_time(value: datetime | None, tenant: Any, *, seconds: bool = False) -> str:
    return local_time(value, getattr(tenant, "time_zone", None), seconds=seconds)


def tenant_time_column(field: str, description: str, *, tenant: str = "tenant", seconds: bool = True,
                       ordering: str | None = None):
    """An admin column or field showing `field` in the tenant's zone; `tenant` is the path
    from the row to its tenant (e.g. "document.tenant")."""
    def column(modeladmin, obj):
        owner = obj
        for part in tenant.split("."):
            owner = getattr(owner, part)
        return tenant_time(getattr(obj, field), owner, seconds=seconds)

    return admin.display(description=description, ordering=ordering)(column)


def age(value: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that says it: "45 s", "12 min", "5 h", "3 d"."""
    if value is None:
        return EMPTY
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def duration(value: timedelta | None) -> str:
    if value is None:
        return EMPTY
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def money(amount: Decimal | None, currency: str = "") -> str:
    if amount is None:
        return EMPTY
    return f"{amount:,.2f} {currency}".strip()


def _scalar(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _label(key: Any) -> str:
    return str(key).replace("_", " ")


def data_table(value: Any, *, depth: int = 0) -> SafeString:
    """A dict as a two-column table, a list of dicts as a table with a column per key, a
    list of scalars as a comma-separated line; nested the same way down to MAX_DEPTH."""
    if isinstance(value, dict):
        if not value:
            return mark_safe(EMPTY)
        if depth >= MAX_DEPTH:
            return format_html("<code>{}</code>", str(value))
        rows = format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>',
                                ((_label(k), data_table(v, depth=depth + 1)) for k, v in value.items()))
        return format_html('<table class="mlc-data">{}</table>', rows)
    if isinstance(value, list | tuple):
        if not value:
            return mark_safe(EMPTY)
        if all(isinstance(item, dict) for item in value) and depth < MAX_DEPTH:
            return records_table(value, depth=depth + 1)
        if all(not isinstance(item, dict | list | tuple) for item in value):
            return format_html("{}", ", ".join(_scalar(item) for item in value))
        return format_html_join(mark_safe("<br>"), "{}", ((data_table(item, depth=depth + 1),) for item in value))
    return format_html("{}", _scalar(value))


def records_table(items: list[dict[str, Any]], *, columns: list[str] | None = None, depth: int = 0) -> SafeString:
    """Rows of records, one column per key (in first-seen order unless given)."""
    if not items:
        return mark_safe(EMPTY)
    if columns is None:
        columns = []
        for item in items:
            columns.extend(k for k in item if k not in columns)
    head = format_html_join("", "<th>{}</th>", ((_label(c),) for c in columns))
    body = format_html_join("", "<tr>{}</tr>", (
        (format_html_join("", "<td>{}</td>", ((data_table(item.get(c), depth=depth),) for c in columns)),)
        for item in items[:MAX_ROWS]))
    more = format_html('<tr><td colspan="{}">… and {} more</td></tr>', len(columns), len(items) - MAX_ROWS) \
        if len(items) > MAX_ROWS else ""
    return format_html('<table class="mlc-data"><thead><tr>{}</tr></thead><tbody>{}{}</tbody></table>', head, body, more)


def calls_table(calls: list[dict[str, Any]]) -> SafeString:
    """An attempt's HTTP calls: method, path, status, time, error."""
    return records_table(calls or [], columns=["method", "path", "status", "ms", "error"])


def pre(text: str) -> SafeString:
    if not text:
        return mark_safe(EMPTY)
    return format_html('<pre class="mlc-pre">{}</pre>', text)
