"""The overview's daily counts (console.daily): the first pass counts every tenant's last
days; later passes count again only the days of documents that changed (from the audit
trail), in the tenant's zone; a changed zone is counted again whole; old days go."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from connector.documents import document_receive, document_transition
from connector.models import Document, DocumentState
from console.daily import KEEP_DAYS, daily_counts_refresh
from console.models import DailyCount, PassMark
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def counts(tenant) -> dict[tuple[date, str], int]:
    return {(row.day, row.state): row.n for row in DailyCount.objects.filter(tenant=tenant, flow="echo")}


def test_the_first_pass_counts_each_local_day_then_a_change_recounts_its_day():
    tenant = make_tenant(time_zone="America/New_York")
    now = timezone.now()
    # 02:30 UTC on a day is the evening before in New York.
    evening = datetime.combine(now.date() - timedelta(days=3), datetime.min.time(), tzinfo=UTC) + timedelta(hours=2,
                                                                                                          minutes=30)
    late, _ = document_receive(tenant=tenant, flow="echo", external_key="LATE", raw="x")
    Document.objects.filter(pk=late.pk).update(created_at=evening)
    for key in ("A", "B"):
        document_receive(tenant=tenant, flow="echo", external_key=key, raw="x")
    Document.objects.create(tenant=tenant, flow="echo", external_key="OLD", raw="x",
                            created_at=now - timedelta(days=KEEP_DAYS + 5))
    assert daily_counts_refresh(now=now) == KEEP_DAYS
    local_today = timezone.localtime(now, timezone=ZoneInfo("America/New_York")).date()
    new_york_evening = (evening - timedelta(hours=5)).date()
    assert counts(tenant) == {(local_today, DocumentState.RECEIVED): 2, (new_york_evening, DocumentState.RECEIVED): 1}

    late.refresh_from_db()
    document_transition(late, DocumentState.FAILED, action="failure", reason="BIG02 is missing")
    # Its day, and today's: a pass reads a few minutes back (A and B were received in them).
    assert daily_counts_refresh(now=now + timedelta(minutes=1)) == 2, "only the days of documents that changed"
    assert counts(tenant)[(new_york_evening, DocumentState.FAILED)] == 1
    assert (new_york_evening, DocumentState.RECEIVED) not in counts(tenant)
    assert PassMark.objects.get(name="daily-counts").at is not None


def test_a_tenant_whose_zone_changed_is_counted_again_and_old_days_go():
    tenant = make_tenant(time_zone="UTC")
    document_receive(tenant=tenant, flow="echo", external_key="A", raw="x")
    now = timezone.now()
    daily_counts_refresh(now=now)
    assert set(DailyCount.objects.values_list("zone", flat=True)) == {"UTC"}
    tenant.time_zone = "Asia/Tokyo"
    tenant.save(update_fields=["time_zone"])
    DailyCount.objects.create(tenant=tenant, flow="echo", day=now.date() - timedelta(days=KEEP_DAYS + 3),
                              state=DocumentState.SENT, n=4, zone="Asia/Tokyo")
    daily_counts_refresh(now=now + timedelta(minutes=1))
    assert set(DailyCount.objects.values_list("zone", flat=True)) == {"Asia/Tokyo"}
    assert not DailyCount.objects.filter(day__lt=now.date() - timedelta(days=KEEP_DAYS)).exists()
