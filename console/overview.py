"""What the admin's home shows: per flow, documents per day by outcome over 30 days, the
backlog waiting for a human, the oldest open failure, the last successful cycle and the
next run, and each outside system's last real call (and last connection test).

Selectors only: each reads with aggregate queries whose number does not grow with the data
(one GROUP BY per chart, not a query per day or per flow), and never loads a payload column.
Days and times are in the scope's zone (the tenant's), and say which zone that is.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Subquery, Sum, Value
from django_celery_beat.models import PeriodicTask

from connector.flows import Flow, all_flows
from connector.models import ConnectionStatus, Document, DocumentState, FlowSchedule, SyncRun, SyncRunStatus
from connector.schedules import schedule_cadence_words
from tenants.connection_checks import connection_system
from tenants.models import CONNECTION_MODELS, Tenant
from tenants.scoping import tenant_ids_for

from .charts import Series, legend, stacked_bars
from .models import DailyCount, FailureGroup, GroupMember, GroupStatus
from .zones import common_zone, local_time, zone

DAYS = 30
# The chart's outcomes and the states each counts.
OUTCOMES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # "done": a flow whose end is neither sent nor posted (a partner's file taken in).
    ("sent", "Sent, posted or done", "#3a8f5c",
     (DocumentState.SENT, DocumentState.POSTED, DocumentState.ACKNOWLEDGED, DocumentState.DONE)),
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
    """Every flow's chart from the counts kept per tenant, flow, local day and state
    (console.daily, as fresh as the last triage pass): one GROUP BY over a few hundred rows
    whatever the number of documents. Each tenant's days are its own zone's; a scope of
    tenants in several zones adds up their local days."""
    tz = zone(scope.zone_name)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    day_list = [first + timedelta(days=i) for i in range(days)]
    bucket_of = {state: key for key, _, _, states in OUTCOMES for state in states}
    rows = (scope.filter(DailyCount.objects.filter(day__gte=first, day__lte=today, state__in=list(bucket_of)))
            .values_list("flow", "day", "state").annotate(total=Sum("n")).order_by())
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {key: [0] * days for key, *_ in OUTCOMES})
    for flow, day, state, n in rows:
        counts[flow][bucket_of[state]][(day - first).days] += n
    return [FlowChart(flow, day_list, [Series(label, colour, counts[flow.name][key]) for key, label, colour, _ in OUTCOMES])
            for flow in all_flows()]


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
    """The end of each flow's last successful cycle in the scope: one query, a row per tenant
    shown with each flow's newest successful run read from the end of an index (console
    migration 0002), never a scan of every run, and its schedule's last quiet cycle (one that
    found nothing keeps no run: connector.sync), whichever ended later."""
    flows = [flow.name for flow in all_flows() if flow.has_cycle]
    if not flows or not scope.tenants:
        return {}
    newest = {f"last_{i}": Subquery(SyncRun.objects.filter(tenant_id=OuterRef("pk"), flow=name,
                                                            status=SyncRunStatus.SUCCEEDED)
                                    .order_by("-started_at").values("finished_at")[:1])
              for i, name in enumerate(flows)}
    quiet = {f"quiet_{i}": Subquery(FlowSchedule.objects.filter(tenant_id=OuterRef("pk"), flow=name)
                                    .values("last_quiet_at")[:1])
             for i, name in enumerate(flows)}
    result: dict[str, datetime] = {}
    rows = Tenant.objects.filter(pk__in=[t.pk for t in scope.tenants]).annotate(**newest, **quiet)
    for row in rows.values(*newest, *quiet):
        for i, name in enumerate(flows):
            for when in (row[f"last_{i}"], row[f"quiet_{i}"]):
                if when is not None and (name not in result or when > result[name]):
                    result[name] = when
    return result


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
    # The last real call (connector.call_status): when, ok or not, failing since, and why.
    call_at: datetime | None = None
    call_ok: bool | None = None
    failing_since: datetime | None = None
    problem: str = ""

    @property
    def call_text(self) -> str:
        """e.g. "last call 2026-06-01 10:42 EDT ok", "failing since … EDT: 503 from Cleo"."""
        if self.call_at is None:
            return "no call yet"
        if self.call_ok:
            return f"last call {local_time(self.call_at, self.zone_name)} ok"
        since = local_time(self.failing_since or self.call_at, self.zone_name)
        return f"failing since {since}: {self.problem or 'failed'} from {self.system}"


def connection_results(*, scope: Scope) -> list[ConnectionResult]:
    """Each outside system's last real call (connector.call_status) and last 'Test
    connections' result: one query (a UNION ALL of the connection tables, each row with its
    status row's columns read by the (tenant, system) unique index)."""
    columns = ("tenant__name", "tenant__time_zone", "enabled", "last_tested_at", "last_test_result",
               "call_at", "call_ok", "call_failing_since", "call_problem")
    per_system = [scope.filter(model.objects.all()).annotate(system=Value(_system_label(model)), **_call_columns(model))
                  .values_list("system", *columns).order_by() for model in CONNECTION_MODELS]
    rows = per_system[0].union(*per_system[1:], all=True) if len(per_system) > 1 else per_system[0]
    results = []
    for system, tenant_name, zone_name, enabled, tested_at, result, call_at, call_ok, failing_since, problem in rows:
        result = result or ""
        results.append(ConnectionResult(
            tenant_name, system, enabled, tested_at, None if not result else result.startswith("OK"),
            result.splitlines()[0] if result else "never tested", zone_name or "UTC",
            call_at, call_ok, failing_since, problem or ""))
    return sorted(results, key=lambda r: (r.tenant_name, r.system))


def _call_columns(model) -> dict[str, Subquery]:
    status = ConnectionStatus.objects.filter(tenant_id=OuterRef("tenant_id"), system=connection_system(model))
    return {name: Subquery(status.values(column)[:1]) for name, column in (
        ("call_at", "last_call_at"), ("call_ok", "ok"), ("call_failing_since", "failing_since"),
        ("call_problem", "problem"))}


def _system_label(model) -> str:
    return str(model._meta.verbose_name).replace(" connection", "").title()


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
