"""A search's count stops at a cap: past it the page says "more than N", offers pages up to
N with a word on how to narrow the search, and spends no query on an estimate (the planner's
guess of a LIKE's matches is no count). Under the cap, and for a page asked for past it, the
count is exact. On PostgreSQL the tenant is compared as the search index can use it."""
from __future__ import annotations

import json
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connector import search
from connector.listing import LargeTablePaginator
from connector.models import Document
from tenants.models import Role
from tenants.scoping import in_tenants
from tests.engine.test_document_list import make_documents
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("admin:connector_document_changelist")
AUDIT = reverse("admin:connector_auditevent_changelist")
NOTE = "Pages go up to the first 8 matches: add a word to the search to narrow it."
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner and indexes")


@pytest.fixture
def tenant(echo_flow):
    return make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")


@pytest.fixture
def small_pages(monkeypatch):
    """A cap of 8 matches, 4 documents a page: two pages up to the cap."""
    monkeypatch.setattr(LargeTablePaginator, "count_up_to", 8)
    monkeypatch.setattr("connector.admin.DocumentAdmin.list_per_page", 4)
    monkeypatch.setattr("connector.admin.AuditEventAdmin.list_per_page", 4)

    def no_estimate(qs):
        raise AssertionError("a search is never estimated")

    monkeypatch.setattr("connector.listing._estimate", no_estimate)


def pager_of(html: str) -> str:
    (pager,) = re.findall(r'<p class="paginator">(.*?)</p>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", pager)).strip()


def pages_linked(html: str) -> list[int]:
    return sorted({int(n) for n in re.findall(r'href="\?[^"]*\bp=(\d+)', html)})


@pytest.mark.parametrize("who", ["superuser", "tenant user"])
def test_a_search_past_the_cap_says_more_than_and_offers_pages_up_to_it(client, tenant, small_pages, who):
    user = make_user(superuser=True) if who == "superuser" else make_user(tenant=tenant, role=Role.SUPPORT)
    client.force_login(user)
    make_documents(tenant, 20)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(LIST, {"q": "inv"}).content.decode()
    assert pager_of(html) == f"1 2 more than 8 documents {NOTE}"
    assert "more than 8 results" in html, "the search box says it too"
    assert pages_linked(html) == [2], "page 1 shown, page 2 linked, nothing past the cap"
    assert re.findall(r"INV-000(\d\d)", html) == ["20", "19", "18", "17"], "the newest first"
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 9" in counts[0], "one count, stopped one past the cap"
    assert not any("EXPLAIN" in q["sql"] for q in captured.captured_queries)


def test_the_last_page_up_to_the_cap_is_full(client, tenant, small_pages):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 20)
    html = client.get(LIST, {"q": "inv", "p": 2}).content.decode()
    assert re.findall(r"INV-000(\d\d)", html) == ["16", "15", "14", "13"]
    assert pager_of(html) == f"1 2 more than 8 documents {NOTE}"


def test_a_page_past_the_cap_asked_for_by_number_is_counted_as_far_as_it_needs(client, tenant, small_pages):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 20)
    html = client.get(LIST, {"q": "inv", "p": 3}).content.decode()
    assert re.findall(r"INV-000(\d\d)", html) == ["12", "11", "10", "09"]
    assert "more than 12 documents" in pager_of(html) and "the first 12 matches" in pager_of(html)
    html = client.get(LIST, {"q": "inv", "p": 5}).content.decode()
    assert re.findall(r"INV-000(\d\d)", html) == ["04", "03", "02", "01"]
    assert pager_of(html) == "1 2 3 4 5 20 documents Show all", "the last page: counted exactly, no note"


def test_a_search_under_the_cap_is_counted_exactly(client, tenant, small_pages):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 15)
    html = client.get(LIST, {"q": "inv-0001"}).content.decode()  # INV-00010 … INV-00015
    assert pager_of(html) == "1 2 6 documents Show all"
    assert "Pages go up to" not in html and "more than" not in html


def test_the_list_without_a_search_still_shows_the_estimate(client, tenant, small_pages, monkeypatch):
    monkeypatch.setattr("connector.listing._estimate", lambda qs: 480_123)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 20)
    html = client.get(LIST).content.decode()
    assert "about 480,000 documents" in html and "Pages go up to" not in html


def test_an_audit_search_past_the_cap_says_more_than_too(client, tenant, small_pages):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 20)
    html = client.get(AUDIT, {"q": "inv"}).content.decode()
    assert pager_of(html) == f"1 2 more than 8 audit events {NOTE}"


def test_a_single_tenant_is_compared_as_a_bigint_and_several_as_a_list(tenant):
    other = make_tenant("Beta", slug="beta")
    make_documents(tenant, 2)
    make_documents(other, 3, start=3)
    one = Document.objects.filter(in_tenants("tenant_id", [tenant.pk]))
    assert "::bigint" in str(one.query) or "AS bigint" in str(one.query).replace("AS BIGINT", "AS bigint")
    assert one.count() == 2
    assert Document.objects.filter(in_tenants("tenant_id", [tenant.pk, other.pk])).count() == 5
    assert not Document.objects.filter(in_tenants("tenant_id", [])).exists()
    found = search.documents_matching(Document.objects.all(), "inv-0000", [other.pk])
    assert sorted(found.values_list("reference", flat=True)) == ["INV-00003", "INV-00004", "INV-00005"]


@on_postgresql
def test_the_search_index_holds_the_tenant_and_the_words():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'connector_document' "
                       "AND indexdef LIKE '%%gin%%'")
        found = dict(cursor.fetchall())
    assert list(found) == ["document_search_tenant_trgm"], found
    assert "(tenant_id, search_text gin_trgm_ops)" in found["document_search_tenant_trgm"]


def bulk_documents(tenant, prefix: str, count: int) -> None:
    Document.objects.bulk_create([
        Document(tenant=tenant, flow="echo", external_key=f"{prefix}-{n}", reference=f"{prefix.upper()}-{n}",
                 search_text=f" | {prefix}-{n} | k-{n} | ") for n in range(count)])


def index_conditions(queryset) -> list[tuple[str, str]]:
    """(index, condition) of each index scan of the bounded read's plan of `queryset`."""
    plans = []

    def read():
        plans.append(json.loads(queryset.order_by().values("pk").explain(format="json")))
        return None

    with transaction.atomic():
        reads = search.SearchReads()
        reads.planner_ran_out = True  # the planner's try ran out: the bounded read
        reads.read(queryset, read)
    found = []

    def walk(node):
        if "Index Name" in node:
            found.append((node["Index Name"], node.get("Index Cond", "")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plans[0][0]["Plan"])
    return found


@on_postgresql
def test_a_tenants_search_read_by_bitmap_can_hold_the_tenant_in_the_search_index_scan(tenant):
    """The bounded read of a word common elsewhere and absent from a big tenant: one GIN scan
    intersects the tenant with the word (13 ms at a million documents, benches/admin_bench.py)
    instead of ANDing the tenant's every row with the word's every match (120 ms). Which
    plan the planner picks depends on the table's size; what this checks is that it can: with
    the tenant's btree indexes out of the way (dropped inside this test's transaction), the
    tenant compared as tenants.scoping compares it is in the GIN scan's condition, and a plain
    integer `IN (id)` is not."""
    bulk_documents(tenant, "ds", 200)
    bulk_documents(make_tenant("Beta", slug="beta"), "inv", 200)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the inserts' foreign-key checks, before the DDL
        cursor.execute("ALTER TABLE connector_document DROP CONSTRAINT one_document_per_external_key")
        for index in ("document_tenant_flow_state", "document_tenant_newest", "document_source_changed",
                      "console_document_waiting"):
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
        cursor.execute("ANALYZE connector_document")
    scoped = search.documents_matching(Document.objects.all(), "inv", [tenant.pk])
    ((index, condition),) = index_conditions(scoped)
    assert index == "document_search_tenant_trgm"
    assert re.match(r"\(\(tenant_id = '\d+'::bigint\) AND \(search_text ~~ '%inv%'::text\)\)$", condition), condition
    assert scoped.count() == 0
    plain = search.documents_matching(Document.objects.filter(tenant_id__in=[tenant.pk]), "inv")
    ((index, condition),) = index_conditions(plain)
    assert "tenant_id" not in condition, "an integer comparison the bigint keys cannot take"


@on_postgresql
def test_after_a_count_past_the_cap_the_page_gets_the_planners_walk_again():
    reads = search.SearchReads()
    reads.planner_ran_out = True
    reads.many_matches()
    assert reads.planner_ran_out is False


def test_show_all_of_a_search_past_the_cap_shows_a_page(client, tenant, small_pages):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 20)
    html = client.get(LIST, {"q": "inv", "all": ""}).content.decode()
    assert re.findall(r"INV-000(\d\d)", html) == ["20", "19", "18", "17"], "never every match at once"
    assert "Show all" not in pager_of(html)


@pytest.mark.parametrize("documents,told", [(20, True), (6, False)])
def test_a_search_past_the_cap_gives_its_page_the_planners_walk_again(client, tenant, small_pages, monkeypatch,
                                                                      documents, told):
    """Reading every match to sort them costs what the matches number: past the cap the
    page's ids are not read the bitmap way at once (connector.search.SearchReads)."""
    calls = []

    class Recording(search.SearchReads):
        def read(self, queryset, read):
            calls.append("read")
            return read()

        def many_matches(self):
            calls.append("many matches")
            super().many_matches()

    monkeypatch.setattr("connector.listing.SearchReads", Recording)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, documents)
    assert client.get(LIST, {"q": "inv"}).status_code == 200
    assert calls == (["read", "many matches", "read"] if told else ["read", "read"]), "the count, then the ids"
