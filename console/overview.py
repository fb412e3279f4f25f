"""What the admin's home shows: per flow, documents per day by outcome over 30 days, the
backlog waiting for a human, the oldest open failure, the last successful cycle and the
next run, and each outside system's last connection result.

Selectors only: each reads with aggregate queries whose number does not grow with the data
(one GROUP BY per chart, not a query per day or per flow), and never loads a payload column.
Days and times are in the scope's zone (the tenant's), and say which zone that is.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count
from django_celery_beat.models import PeriodicTask

from connector.flows import Flow, all_flows
from connector.models import Document, DocumentState, FlowSchedule, SyncRun, SyncRunStatus
from connector.schedules import schedule_cadence_words
from tenants.models import CONNECTION_MODELS, Tenant
from tenants.scoping import tenant_ids_for

from .charts import Series, legend, stacked_bars
from .models import FailureGroup, GroupMember, GroupStatus
from .zones import common_zone, local_time, zone

DAYS = 30
# The chart's outcomes and the states each counts.
OUTCOMES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("sent", "Sent or posted", "#3a8f5c", (DocumentState.SENT, DocumentState.POSTED, DocumentState.ACKNOWLEDGED)),
    ("duplicate", "Duplicate", "#8a9bb0", (DocumentState.DUPLICATE,)),
    ("needs_mapping", "Needs mapping", "#e0a030", (DocumentState.NEEDS_MAPPING,)),
    ("failed", "Failed", "#c0392b", (DocumentState.FAILED, DocumentState.REJECTED)),
)
WAITING_FOR_A_HUMAN = (DocumentState.NEEDS_MAPPING, DocumentState.FAILED, DocumentState.REJECTED)


@dataclass
class Scope:
    """Which tenants the page shows (None: every tenant) and in which zone."""

    tenant_ids: list[int] | None
    tenants: list[Tenant]
    choices: list[Tenant]
    selected: Tenant | None
    zone_name: str

    def filter(self, qs, path: str = "tenant_id"):
        return qs if self.tenant_ids is None else qs.filter(**{f"{path}__in": self.tenant_ids})


def overview_scope(*, user, tenant_slug: str | None) -> Scope:
    """A user's tenants (a superuser's: all), narrowed to one when picked."""
    allowed = tenant_ids_for(user)
    choices = list(Tenant.objects.filter(active=True) if allowed is None else Tenant.objects.filter(pk__in=allowed))
    selected = next((t for t in choices if t.slug == tenant_slug), None) if tenant_slug else None
    if selected is None and len(choices) == 1 and allowed is not None:
        selected = choices[0]
    if selected is not None:
        return Scope([selected.pk], [selected], choices, selected, selected.time_zone or "UTC")
    return Scope(allowed, choices, choices, None, common_zone(t.time_zone or "UTC" for t in choices))


@dataclass
class FlowChart:
    flow: Flow
    days: list[date]
    series: list[Series]

    @property
    def total(self) -> int:
        return sum(sum(s.values) for s in self.series)


def documents_per_day(*, scope: Scope, now: datetime, days: int = DAYS) -> list[FlowChart]:
    """One GROUP BY (flow, local day, state) over the last `days` days, for every flow's chart.

    The local days' boundaries are worked out here (each midnight in the scope's zone, so a
    day of a daylight-saving change has its 23 or 25 hours) and the database puts each row
    in its day with width_bucket, a binary search over them: at a million documents the
    30 days are ~90,000 rows of an index-only scan, and converting each to a local date
    (AT TIME ZONE) was most of the query's time."""
    tz = zone(scope.zone_name)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    day_list = [first + timedelta(days=i) for i in range(days)]
    starts = [datetime.combine(day, datetime.min.time(), tzinfo=tz) for day in day_list]
    bucket_of = {state: key for key, _, _, states in OUTCOMES for state in states}
    qs = scope.filter(Document.objects.filter(created_at__gte=starts[0], state__in=list(bucket_of)))
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {key: [0] * days for key, *_ in OUTCOMES})
    for flow, day_index, state, n in _per_local_day(qs, starts):
        index = day_index - 1  # width_bucket counts from 1 at the first boundary
        if 0 <= index < days:
            counts[flow][bucket_of[state]][index] += n
    return [FlowChart(flow, day_list, [Series(label, colour, counts[flow.name][key]) for key, label, colour, _ in OUTCOMES])
            for flow in all_flows()]


def _per_local_day(qs, starts: list[datetime]) -> list[tuple[str, int, str, int]]:
    """(flow, day number from 1, state, count) of the queryset's documents."""
    rows = qs.values_list("flow", "state", "created_at").order_by()
    if connection.vendor != "postgresql":
        found: dict[tuple[str, int, str], int] = defaultdict(int)
        for flow, state, created_at in rows.iterator():
            found[(flow, bisect_right(starts, created_at), state)] += 1
        return [(flow, index, state, n) for (flow, index, state), n in found.items()]
    inner, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT flow, width_bucket(created_at, %s::timestamptz[]) AS day, state, count(*) "
            f"FROM ({inner}) AS d (flow, state, created_at) GROUP BY 1, 2, 3", [starts, *params])
        return cursor.fetchall()


def backlog(*, scope: Scope) -> dict[str, dict[str, int]]:
    """Documents waiting for a human, per flow and state: one GROUP BY, an index-only scan of
    the partial index of waiting documents (console migration 0002)."""
    rows = (scope.filter(Document.objects.filter(state__in=WAITING_FOR_A_HUMAN)).values("flow", "state")
            .annotate(n=Count("*")).order_by())
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        result[row["flow"]][row["state"]] = row["n"]
    return result


def open_groups(*, scope: Scope, limit: int = 8) -> list[FailureGroup]:
    """The largest open failure groups (triage), largest first."""
    return list(scope.filter(FailureGroup.objects.filter(status=GroupStatus.OPEN)).select_related("tenant")
                .order_by("-open_count", "-last_seen_at")[:limit])


def oldest_open_failure(*, scope: Scope) -> GroupMember | None:
    """The document waiting longest for a human, as triage placed it."""
    return (scope.filter(GroupMember.objects.filter(ignored=False, document__state__in=WAITING_FOR_A_HUMAN),
                         "group__tenant_id")
            .select_related("group", "document__tenant").only(
                "id", "joined_at", "error", "group__id", "group__pattern", "group__flow", "group__step",
                "document__id", "document__external_key", "document__flow", "document__state",
                "document__tenant__name", "document__tenant__time_zone")
            .order_by("joined_at", "id").first())


def last_successful_cycles(*, scope: Scope) -> dict[str, datetime]:
    """The end of each flow's last successful cycle: one query, each flow's newest successful
    run read from the end of an index (console migration 0002), never a scan of every run."""
    newest = [scope.filter(SyncRun.objects.filter(flow=flow.name, status=SyncRunStatus.SUCCEEDED))
              .order_by("-started_at").values_list("flow", "finished_at")[:1] for flow in all_flows() if flow.has_cycle]
    if len(newest) > 1 and connection.features.supports_slicing_ordering_in_compound:
        newest = [newest[0].union(*newest[1:], all=True)]
    return {flow: finished for rows in newest for flow, finished in rows}  # SQLite: a query per flow


@dataclass
class NextRun:
    """A (tenant, flow) schedule as the overview says it: when it runs next (in the tenant's
    zone), its cadence, whether it is paused and why, and the ticks it skipped."""

    tenant: Tenant
    task: PeriodicTask | None
    when: datetime | None = None
    words: str = ""
    cadence: str = ""
    skipped: int = 0
    last_skipped_at: datetime | None = None

    @property
    def when_text(self) -> str:
        return local_time(self.when, self.tenant.time_zone or "UTC") if self.when else ""

    @property
    def skipped_text(self) -> str:
        if not self.skipped:
            return ""
        last = local_time(self.last_skipped_at, self.tenant.time_zone or "UTC") if self.last_skipped_at else "unknown"
        return f"{self.skipped} tick{'s' if self.skipped != 1 else ''} skipped (a run was still going), the last {last}"


def next_runs(*, scope: Scope, now: datetime) -> dict[str, list[NextRun]]:
    """Each polled flow's next cycle per tenant, from its FlowSchedule (a person's switch, the
    skipped ticks) and django-celery-beat's periodic task (enabled, cadence, last run): one query."""
    flows = [flow for flow in all_flows() if flow.has_cycle]
    schedules = {(s.tenant_id, s.flow): s for s in scope.filter(FlowSchedule.objects.filter(
        flow__in=[flow.name for flow in flows])).select_related(
            "periodic_task__interval", "periodic_task__crontab", "periodic_task__solar", "periodic_task__clocked")}
    result: dict[str, list[NextRun]] = defaultdict(list)
    for tenant in scope.tenants:
        for flow in flows:
            result[flow.name].append(_next_run(tenant, schedules.get((tenant.pk, flow.name)), now))
    return result


def _next_run(tenant: Tenant, schedule: FlowSchedule | None, now: datetime) -> NextRun:
    if schedule is None:
        return NextRun(tenant, None, words="not scheduled (its connections were never enabled)")
    task = schedule.periodic_task
    run = NextRun(tenant, task, cadence=schedule_cadence_words(schedule), skipped=schedule.skip_count,
                  last_skipped_at=schedule.last_skipped_at)
    if not schedule.enabled:
        run.words = "paused (switched off on the schedules page)"
    elif not task.enabled:
        run.words = "paused (the tenant or a connection the flow needs is off)"
    else:
        run.when = next_run_at(task, now=now)
        if run.when is None:
            run.words = "no next run (the task's schedule has no future time)"
        elif run.when <= now:
            run.words = "due now"
    return run


def next_run_at(task: PeriodicTask, *, now: datetime) -> datetime | None:
    """When beat runs the task next, by the task's own schedule (a crontab in its zone) read
    against `now`. A task beat never ran counts from now, as beat does when it loads it."""
    try:
        schedule = task.schedule
    except (AttributeError, TypeError, ValueError):
        return None
    tz = getattr(schedule, "tz", None)
    schedule.nowfun = (lambda: now.astimezone(tz)) if tz is not None else (lambda: now)
    last = task.last_run_at or now
    if task.start_time and task.start_time > now:
        last = max(last, task.start_time)
    if task.one_off and task.total_run_count:
        return None
    try:
        remaining = schedule.remaining_estimate(last.astimezone(tz) if tz is not None else last)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
    when = now + remaining
    if task.expires and when > task.expires:
        return None
    return max(when, now) if task.last_run_at is not None else when


@dataclass
class ConnectionResult:
    tenant_name: str
    system: str
    enabled: bool
    tested_at: datetime | None
    ok: bool | None
    summary: str = ""
    zone_name: str = "UTC"


def connection_results(*, scope: Scope) -> list[ConnectionResult]:
    """Each outside system's last 'Test connections' result (one query per system)."""
    results: list[ConnectionResult] = []
    for model in CONNECTION_MODELS:
        label = str(model._meta.verbose_name).replace(" connection", "").title()
        for row in scope.filter(model.objects.all()).values("tenant__name", "tenant__time_zone", "enabled",
                                                               "last_tested_at", "last_test_result"):
            result = row["last_test_result"] or ""
            results.append(ConnectionResult(
                row["tenant__name"], label, row["enabled"], row["last_tested_at"],
                None if not result else result.startswith("OK"), result.splitlines()[0] if result else "never tested",
                row["tenant__time_zone"] or "UTC"))
    return sorted(results, key=lambda r: (r.tenant_name, r.system))


@dataclass
class Overview:
    scope: Scope
    now: datetime
    charts: list[FlowChart] = field(default_factory=list)
    backlog: dict[str, dict[str, int]] = field(default_factory=dict)
    oldest: GroupMember | None = None
    last_success: dict[str, datetime] = field(default_factory=dict)
    next_runs: dict[str, list[NextRun]] = field(default_factory=dict)
    connections: list[ConnectionResult] = field(default_factory=list)
    groups: list[FailureGroup] = field(default_factory=list)

    def flows(self) -> list[dict[str, Any]]:
        labels = dict(DocumentState.choices)
        return [{"chart": chart, "flow": chart.flow, "backlog": self.backlog.get(chart.flow.name, {}),
                 "waiting_rows": [(state, labels.get(state, state), n) for state, n
                                  in sorted(self.backlog.get(chart.flow.name, {}).items())],
                 "svg": stacked_bars(title=f"{chart.flow.label}: documents per day, last {len(chart.days)} days "
                                           f"({self.scope.zone_name})", days=chart.days, series=chart.series),
                 "legend": legend(chart.series),
                 "last_success": self.last_success.get(chart.flow.name),
                 "next_runs": self.next_runs.get(chart.flow.name, [])} for chart in self.charts]


def overview_build(*, scope: Scope, now: datetime) -> Overview:
    return Overview(scope=scope, now=now, charts=documents_per_day(scope=scope, now=now), backlog=backlog(scope=scope),
                    oldest=oldest_open_failure(scope=scope), last_success=last_successful_cycles(scope=scope),
                    next_runs=next_runs(scope=scope, now=now), connections=connection_results(scope=scope),
                    groups=open_groups(scope=scope))


@dataclass(frozen=True)
class SourceChanged:
    """Documents of one flow whose record changed in its source after they went out."""

    flow: Flow
    count: int


def source_changed_counts(*, scope: Scope) -> list[SourceChanged]:
    """One GROUP BY over the (partial) index of flagged documents: per flow, how many changed in
    their source system after they went out (an AR invoice edited after its 810 was sent)."""
    rows = (scope.filter(Document.objects.filter(source_changed_at__isnull=False)).order_by()
            .values("flow").annotate(n=Count("id")))
    flows = {flow.name: flow for flow in all_flows()}
    return [SourceChanged(flows[row["flow"]], row["n"]) for row in sorted(rows, key=lambda r: r["flow"])
            if row["flow"] in flows]
