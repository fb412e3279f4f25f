"""Finding documents by what people remember: any part of an invoice number, a client or
vendor name, a file name or an external id ("1002" finds DS-1002).

Every such word is in the document's `search_text`, lower-cased, so a search is one
`LIKE '%word%'` per word (all must match) on one column. On PostgreSQL a GIN index of
(tenant_id, search_text) with pg_trgm (migration 0012) answers it without reading the table;
on SQLite a plain LIKE is enough.
A word of one or two characters has no trigram to look up (and matches half of everything
as a part): it is left out of the search, and a search of only such words finds nothing and
says why, instead of reading the whole table.

**How a search is read.** PostgreSQL's planner estimates a LIKE's matches over the whole
table, as if they were spread evenly over tenants; they are not ("inv" is in half the
documents, and in none of a tenant that only receives supplier invoices). So each query of a
search page runs first with the planner's plan, at SEARCH_PLANNER_COSTS (a tenant's bitmap
at four times the price, pages from memory: it walks the newest rows for a word they hold
and stops after a page, and checks the tenant on a rare word's few matches), within
SEARCH_FIRST_TRY_MS (statement_timeout, in a savepoint). One that runs out (a word common
elsewhere and rare in the tenant, whose walk would read every row of the tenant) is read
again with bitmap scans only: one GIN scan of (tenant_id, search_text) (migration 0012)
intersects the tenant's posting list with the word's, 13 ms for "inv" in a tenant of
250,000 documents, then the matches are read (no parallel workers: starting them costs
more than the few matches). The tenant is compared as a bigint (tenants.scoping.in_tenants):
btree_gin has no bigint = integer operator, and `tenant_id IN (7)`, an integer comparison,
would leave the tenant out of the GIN scan.

Past the count's cap (connector.listing: "more than 1,000") reading every match to sort
them costs what the matches number, so after a count that ran out and found more than the
cap the page's ids get the planner's walk again (it stops after a page); under the cap they
go the bitmap way at once. Inside the transaction the admin opens for a search page
(connector.listing); elsewhere (SQLite, or outside a transaction) the queries simply run.

**What trigrams cannot tell apart.** pg_trgm keeps letters and digits only: "810-" is
looked up as "810", and in a tenant whose every file name holds "supplier_810_…" each of its
250,000 rows is a candidate the bitmap read must check (1.4 s). The bitmap read therefore
has SEARCH_BOUNDED_MS too; one that runs out raises SearchTooBroad, and the list answers at
once with no rows and a message naming the search and what to do (add characters or a word),
instead of making the user wait seconds for what is most likely nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet
from django.utils.text import smart_split, unescape_string_literal

from tenants.scoping import in_tenants

T = TypeVar("T")
# Shorter words have no trigram: they are left out.
MIN_PARTIAL = 3
MAX_WORDS = 8
# What the planner's plan is given before a search is read the bounded way: its good plans
# answer in 0-25 ms at a million documents, the bitmap read after one that ran out in 10-30
# ms, and a page must render in under 300 ms (benches/admin_bench.py).
SEARCH_FIRST_TRY_MS = 100
# The first try's costs (SET LOCAL): index tuples at four times the default, heap pages as
# cached ones; measured at a million documents, see benches/admin_bench.py.
SEARCH_PLANNER_COSTS = {"cpu_index_tuple_cost": "0.02", "random_page_cost": "1.1"}
# Room for the bitmaps of every row of a large tenant and every match of a common word,
# exact: with the default 4 MB they turn lossy and the heap scan rechecks whole pages.
BITMAP_WORK_MEM = "64MB"
# What the bitmap read is given before the search is called too broad: first try + this +
# the page's own rendering stays under 300 ms.
SEARCH_BOUNDED_MS = 120
QUERY_CANCELED = "57014"  # the SQLSTATE of a statement stopped by statement_timeout


class SearchTooBroad(Exception):
    """A search whose words' letters and digits are in so many of the rows searched that
    checking each one would take seconds."""

    def __init__(self) -> None:
        super().__init__(f"stopped after {SEARCH_FIRST_TRY_MS + SEARCH_BOUNDED_MS} ms: the letters and digits of its "
                         "words are in too many documents to check each one in time (punctuation is not indexed: "
                         "\"810-\" is looked up as \"810\"). Add characters or another word to narrow it.")


# Set on a request whose search was too broad: the list is answered again with no rows.
TOO_BROAD = "connector_search_too_broad"


def search_too_broad(request) -> bool:
    """Whether this request's search already ran out (its list shows no rows)."""
    return getattr(request, TOO_BROAD, False)


def search_words(term: str) -> list[str]:
    """The words of a search box, quotes honoured ("harbor supply" is one word), lower-cased."""
    words = []
    for bit in smart_split(term or ""):
        if bit[:1] in ('"', "'") and bit[-1:] == bit[:1]:
            bit = unescape_string_literal(bit)
        bit = bit.strip().lower()
        if bit and bit not in words:
            words.append(bit)
    return words[:MAX_WORDS]


def too_short(term: str) -> bool:
    """A search none of whose words is long enough to search by."""
    words = search_words(term)
    return bool(words) and all(len(word) < MIN_PARTIAL for word in words)


def documents_matching(queryset: QuerySet, term: str, tenant_ids: list[int] | None = None) -> QuerySet:
    """The documents of `queryset` whose search words contain every word of `term` (of at
    least MIN_PARTIAL characters), among `tenant_ids` unless None; none when `term` has no
    such word. The tenants are compared as the search index can use them
    (tenants.scoping.in_tenants): a queryset scoped otherwise would lose the tenant from the
    index scan."""
    words = [word for word in search_words(term) if len(word) >= MIN_PARTIAL]
    if not words:
        return queryset.none()
    if tenant_ids is not None:
        queryset = queryset.filter(in_tenants("tenant_id", tenant_ids))
    for word in words:
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def _set(queryset: QuerySet, **settings: str) -> None:
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                       [item for pair in settings.items() for item in pair])


class SearchReads:
    """The queries of one search page (its count, its page of ids, its rows), each with the
    planner's plan (at SEARCH_PLANNER_COSTS) if it answers within SEARCH_FIRST_TRY_MS, else
    again with bitmap scans only, within SEARCH_BOUNDED_MS (SearchTooBroad past it); once one
    has run out of time the rest go the bounded way at once, unless `many_matches` says the
    bitmap way would read too many. Each try runs in a
    savepoint rolled back after it, which also undoes its SET LOCALs. PostgreSQL inside a
    transaction only; elsewhere each query simply runs."""

    def __init__(self) -> None:
        self.planner_ran_out = False

    def many_matches(self) -> None:
        """The search matches more than a page's reads should visit one by one (its count
        stopped at the cap): the next query gets the planner's walk first again."""
        self.planner_ran_out = False

    def read(self, queryset: QuerySet, read: Callable[[], T]) -> T:
        using = queryset.db
        connection = connections[using]
        if connection.vendor != "postgresql" or not connection.in_atomic_block:
            return read()
        if not self.planner_ran_out:
            savepoint = transaction.savepoint(using=using)
            try:
                _set(queryset, statement_timeout=f"{SEARCH_FIRST_TRY_MS}ms", **SEARCH_PLANNER_COSTS)
                return read()
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != QUERY_CANCELED:
                    raise
                self.planner_ran_out = True
            finally:
                transaction.savepoint_rollback(savepoint, using=using)
        savepoint = transaction.savepoint(using=using)
        try:
            _set(queryset, enable_indexscan="off", enable_indexonlyscan="off", enable_seqscan="off",
                 work_mem=BITMAP_WORK_MEM, max_parallel_workers_per_gather="0",
                 statement_timeout=f"{SEARCH_BOUNDED_MS}ms")
            return read()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != QUERY_CANCELED:
                raise
            raise SearchTooBroad from None
        finally:
            transaction.savepoint_rollback(savepoint, using=using)


def search_read(queryset: QuerySet, read: Callable[[], T]) -> T:
    """One bounded read of a search (SearchReads, for a query on its own)."""
    return SearchReads().read(queryset, read)
