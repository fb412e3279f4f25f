"""Documents per day, counted ahead for the overview's charts.

The charts show the last 30 days of every flow by outcome. Counting those documents on each
render reads ~90,000 index entries at a million documents (more for a busier tenant); the
counts kept here make a render read a few hundred rows, whatever the volume. A document is
counted on the local day (its tenant's zone) it was created, under its state now, so a day
is counted again whenever one of its documents changes state.

`daily_counts_refresh` runs with triage (console.tasks.triage, every minute): the first pass
counts every tenant's last days; later passes read the audit trail since their mark (every
change of state writes an AuditEvent, `at` is indexed), as triage does, and count again the
days of the documents that changed, a few minutes back so a late commit is not missed. A
tenant whose zone changed is counted again whole. The charts are as fresh as the last pass.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from connector.models import AuditEvent, Document
from tenants.models import Tenant

from .models import DailyCount, PassMark
from .zones import zone

MARK = "daily-counts"
KEEP_DAYS = 32  # the charts' 30 days, and a day either side for the zones
LOOKBACK = timedelta(minutes=5)
BATCH_SIZE = 2000
MAX_BATCHES = 20


def day_starts(*, zone_name: str, first: date, days: int) -> list[datetime]:
    """Each local midnight from `first`: a day of a daylight-saving change has its 23 or 25 hours."""
    tz = zone(zone_name)
    return [datetime.combine(first + timedelta(days=i), datetime.min.time(), tzinfo=tz) for i in range(days)]


def per_local_day(qs, starts: list[datetime]) -> list[tuple[str, int, str, int]]:
    """(flow, day number from 1 at starts[0], state, count) of the queryset's documents; one
    GROUP BY where width_bucket puts each row in its day (a binary search over the midnights:
    converting every row to a local date was most of the query's time)."""
    rows = qs.values_list("flow", "state", "created_at").order_by()
    if connection.vendor != "postgresql":
        found: dict[tuple[str, int, str], int] = defaultdict(int)
        for flow, state, created_at in rows.iterator():
            found[(flow, bisect_right(starts, created_at), state)] += 1
        return [(flow, index, state, n) for (flow, index, state), n in found.items()]
    inner, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT flow, width_bucket(created_at, %s::timestamptz[]) AS day, state, count(*) "
                       f"FROM ({inner}) AS d (flow, state, created_at) GROUP BY 1, 2, 3", [starts, *params])
        return cursor.fetchall()


def tenant_days_count(*, tenant: Tenant, first: date, days: int) -> int:
    """Count `days` local days of the tenant from `first` again (one GROUP BY), replacing
    what was kept for them. Returns the rows written."""
    zone_name = tenant.time_zone or "UTC"
    starts = day_starts(zone_name=zone_name, first=first, days=days + 1)
    qs = Document.objects.filter(tenant_id=tenant.pk, created_at__gte=starts[0], created_at__lt=starts[-1])
    rows = [DailyCount(tenant_id=tenant.pk, flow=flow, day=first + timedelta(days=index - 1), state=state, n=n,
                       zone=zone_name)
            for flow, index, state, n in per_local_day(qs, starts[:-1]) if 1 <= index <= days]
    with transaction.atomic():
        DailyCount.objects.filter(tenant_id=tenant.pk, day__gte=first, day__lt=first + timedelta(days=days)).delete()
        DailyCount.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def daily_counts_refresh(*, now: datetime | None = None, batch_size: int = BATCH_SIZE,
                         max_batches: int = MAX_BATCHES) -> int:
    """One pass; returns the (tenant, day) counted again."""
    now = now or timezone.now()
    mark, _ = PassMark.objects.get_or_create(name=MARK)
    tenants = {t.pk: t for t in Tenant.objects.only("id", "time_zone")}
    counted_zones = dict(DailyCount.objects.values_list("tenant_id", "zone").distinct())
    whole = [t for t in tenants.values() if mark.at is None or counted_zones.get(t.pk, t.time_zone or "UTC")
             != (t.time_zone or "UTC")]
    for tenant in whole:
        today = now.astimezone(zone(tenant.time_zone)).date()
        tenant_days_count(tenant=tenant, first=today - timedelta(days=KEEP_DAYS - 1), days=KEEP_DAYS + 1)
    recounted = len(whole) * KEEP_DAYS
    if mark.at is None:
        PassMark.objects.filter(pk=mark.pk).update(at=now, last_id=0)
        return recounted
    dirty: set[tuple[int, date]] = set()
    last_at, last_id = mark.at - LOOKBACK, 0
    for _ in range(max_batches):
        events = list(AuditEvent.objects.filter(document__isnull=False)
                      .filter(Q(at__gt=last_at) | Q(at=last_at, id__gt=last_id))
                      .order_by("at", "id").values_list("id", "at", "document_id")[:batch_size])
        if not events:
            break
        last_id, last_at, _ = events[-1]
        for tenant_id, created_at in Document.objects.filter(pk__in={e[2] for e in events}).values_list(
                "tenant_id", "created_at"):
            tenant = tenants.get(tenant_id)
            if tenant is not None and tenant not in whole:
                dirty.add((tenant_id, created_at.astimezone(zone(tenant.time_zone)).date()))
        if len(events) < batch_size:
            break
    oldest = now.date() - timedelta(days=KEEP_DAYS + 1)
    for tenant_id, day in sorted(dirty):
        if day >= oldest:
            tenant_days_count(tenant=tenants[tenant_id], first=day, days=1)
            recounted += 1
    if last_at > mark.at:
        PassMark.objects.filter(pk=mark.pk).update(at=last_at)
    DailyCount.objects.filter(day__lt=oldest).delete()
    return recounted
