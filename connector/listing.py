"""Admin lists of tables that grow to millions of rows (documents, attempts, audit events,
sync runs) in a time and a number of queries that do not grow with them.

- **Counting**: never an exact COUNT over a big set. The paginator counts up to COUNT_UP_TO
  rows with a LIMIT; past that it shows the planner's estimate ("about 480,000") on
  PostgreSQL, or counts only as far as the page asked for needs ("more than N"). A search
  stops at the cap ("more than 1,000 documents", pages up to it, as Stripe's dashboard
  does): the planner's estimate of a LIKE is a guess (it spreads a word's matches evenly
  over tenants: "about 125,000" for a word the tenant does not hold), and no query more is
  spent on it. A page past the cap asked for by its number is counted as far as it needs.
- **Deep pages**: OFFSET, made cheap. The page's ids are read first, with OFFSET, from an
  index that holds the ordering and what the filters test (Document's (tenant, created_at,
  id) INCLUDE (flow, state) and (created_at, id) INCLUDE (tenant, flow, state)), so skipping
  50,000 rows walks 50,000 index entries and touches no table page; then the page's 100 rows
  are fetched by primary key. Keyset pagination would be as fast at any depth but would
  take away page numbers (and the admin's own pager, sorting and links to "page 7"); at the
  depths people reach, the index walk costs milliseconds.
- **Payloads**: list pages defer the payload columns (raw input, artifact, mapped record,
  calls, tracebacks), of the row and of the rows joined to it.
- **Filters** offer choices from code (the flow registry, known actions), never from a
  SELECT DISTINCT over the table; facet counts are off.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR, ChangeList
from django.core.paginator import Paginator
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .flows import all_flows
from .search import TOO_BROAD, SearchReads, SearchTooBroad, search_too_broad

COUNT_UP_TO = 1000
T = TypeVar("T")
# The payload columns of each model, deferred on list pages (with "__" paths for joined rows).
DOCUMENT_PAYLOAD = ("raw", "mapped", "artifact", "external_ids", "search_text")


class LargeTablePaginator(Paginator):
    """Counts with a LIMIT and estimates past it; reads a page's ids from an index first."""

    count_up_to = COUNT_UP_TO

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, page_hint: int = 1,
                 search: bool = False, search_reads: bool = False):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.page_hint = max(1, page_hint)
        self.count_exact = True
        self.count_label = ""
        self.count_note = ""  # what a capped search's page says under its pager
        # A search's count stops at the cap (no estimate).
        self.search = search or search_reads
        # A trigram search's queries are read through connector.search (bounded plans).
        self.search_reads = SearchReads() if search_reads else None

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().count
        if self.search:
            return self._count_capped(qs)
        counted = self._read(qs, lambda: qs.order_by()[: self.count_up_to + 1].count())
        self.count_label = f"{counted:,}"
        if counted <= self.count_up_to:
            return counted
        return self._count_past(qs, counted, self.count_up_to)

    def _count_capped(self, qs: QuerySet) -> int:
        """A search's count: exact up to the cap's last whole page, or up to the page asked for
        when that is further; past it "more than 1,000", pages up to there. One query."""
        cap = max(self.per_page, self.count_up_to // self.per_page * self.per_page)
        cap = max(cap, self.page_hint * self.per_page)
        counted = self._read(qs, lambda: qs.order_by()[: cap + 1].count())
        self.count_label = f"{counted:,}"
        if counted <= cap:
            return counted
        if self.search_reads is not None:
            self.search_reads.many_matches()
        self.count_exact = False
        self.count_label = f"more than {cap:,}"
        self.count_note = f"Pages go up to the first {cap:,} matches: add a word to the search to narrow it."
        return cap

    def _count_past(self, qs: QuerySet, counted: int, counted_up_to: int) -> int:
        """More than `counted_up_to` rows: the planner's estimate, or a count as far as the
        page asked for needs."""
        self.count_exact = False
        needed = self.page_hint * self.per_page
        estimate = _estimate(qs)
        if estimate is not None and estimate >= max(needed, counted):
            self.count_label = f"about {_round(estimate):,}"
            return estimate
        if needed > counted_up_to:  # no estimate, or one too low for the page asked: count that far
            counted = self._read(qs, lambda: qs.order_by()[: needed + 1].count())
            if counted <= needed:
                self.count_exact = True
                self.count_label = f"{counted:,}"
                return counted
        self.count_label = f"more than {max(needed, counted_up_to):,}"
        return counted

    def _read(self, qs: QuerySet, read: Callable[[], T]) -> T:
        """A query of the list: a search's bounded by connector.search.search_read."""
        return self.search_reads.read(qs, read) if self.search_reads is not None else read()

    def page(self, number):
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        # An estimated count may promise pages the data does not fill: such a page is empty.
        ids = self._read(qs, lambda: list(qs.values_list("pk", flat=True)[bottom:top]))
        rows = {row.pk: row for row in qs.order_by().filter(pk__in=ids)} if ids else {}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


def _round(number: int) -> int:
    """An estimate shown with the digits it can claim (480,123 → 480,000)."""
    if number < 10_000:
        return number
    scale = 10 ** (len(str(number)) - 2)
    return round(number / scale) * scale


def _estimate(qs: QuerySet) -> int | None:
    """The planner's row estimate: the table's own for an unfiltered list, EXPLAIN's
    otherwise. PostgreSQL only; None elsewhere."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    if not qs.query.where:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table])
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] > 0 else None
    plan = json.loads(qs.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class ReadOnlyAdminMixin:
    """Records only the engine writes: read, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LeanChangeList(ChangeList):
    """The admin's list, without the payload columns of the rows it shows."""

    def get_queryset(self, request, exclude_parameters=None):
        qs = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_defer", ())
        return qs.defer(*deferred) if deferred else qs

    def get_results(self, request):
        """A list that fits one page is the queryset itself, left for the template to read
        after the view's transaction; read it here, as the paginator reads a page."""
        super().get_results(request)
        if isinstance(self.paginator, LargeTablePaginator) and not self.paginator.count_exact:
            # "Show all" of a count that stopped short would read every row: a page instead.
            if self.show_all and self.can_show_all:
                self.result_list = self.paginator.page(self.page_num).object_list
            self.can_show_all = False
        if isinstance(self.result_list, QuerySet) and isinstance(self.paginator, LargeTablePaginator):
            rows = self.result_list
            self.result_list = self.paginator._read(rows, lambda: list(rows)) if self.result_count else []


class LargeTableAdmin(admin.ModelAdmin):
    """Mixin for the admin of a big table: lean list, bounded counts, no facet counts."""

    paginator = LargeTablePaginator
    change_list_template = "admin/big_change_list.html"  # rows rendered by connector.templatetags.big_lists
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_defer: tuple[str, ...] = ()
    # Whether the list's search is a trigram search of its own rows (connector.search), read
    # as that module measures; the attempts' and audit events' searches look documents up.
    search_reads_documents = False

    class Media:
        css = {"all": ("connector/admin.css",)}  # tables of values, state badges, progress bars

    def get_changelist(self, request, **kwargs):
        return LeanChangeList

    def changelist_view(self, request, extra_context=None):
        """A search page is read in one transaction on PostgreSQL, so connector.search may
        bound each of its queries (savepoints, SET LOCAL); one too broad to check in time is
        answered again at once with no rows and a message. A POST (an action on the selected
        rows, e.g. replay) runs as it always does, outside any transaction."""
        if request.method != "GET" or not request.GET.get(SEARCH_VAR):
            return super().changelist_view(request, extra_context)
        try:
            if connection.vendor != "postgresql":
                return super().changelist_view(request, extra_context)
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except SearchTooBroad as exc:
            # Answered again with no rows (connector.search.search_too_broad), saying why and
            # what to do: the second answer reads no search at all.
            setattr(request, TOO_BROAD, True)
            messages.warning(request, f"The search for “{request.GET[SEARCH_VAR].strip()}” was {exc}")
            return super().changelist_view(request, extra_context)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page = 1
        search = bool(request.GET.get(SEARCH_VAR, "").strip())
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, page_hint=page, search=search,
                              search_reads=search and self.search_reads_documents and not search_too_broad(request))


class FlowFilter(admin.SimpleListFilter):
    """Flows from the registry: no query."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request, model_admin):
        return [(flow.name, flow.label) for flow in all_flows()]

    def queryset(self, request, queryset):
        return queryset.filter(flow=self.value()) if self.value() else queryset


# What the engine itself writes as an audit action; flows add their step names.
ENGINE_ACTIONS = ("received", "transition", "replay", "retry_scheduled", "transient_failure", "config_failure",
                  "data_failure", "bug_failure", "cursor_set", "997_applied", "997_received", "997_unmatched",
                  "inbox_problem")


class AuditActionFilter(admin.SimpleListFilter):
    """Known actions (the engine's and every flow's steps), without reading the table."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = list(ENGINE_ACTIONS)
        for flow in all_flows():
            actions.extend(name for name in flow.step_names() if name not in actions)
        return [(action, action.replace("_", " ")) for action in actions]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ActorFilter(admin.SimpleListFilter):
    """Who caused it: the system, or a person (with the user index, not a scan of actors)."""

    title = "who"
    parameter_name = "who"

    def lookups(self, request, model_admin):
        return [("system", "the system"), ("person", "a person")]

    def queryset(self, request, queryset):
        if self.value() == "system":
            return queryset.filter(user__isnull=True)
        if self.value() == "person":
            return queryset.filter(user__isnull=False)
        return queryset
