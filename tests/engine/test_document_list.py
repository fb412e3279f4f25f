"""The document and audit lists at any size: business columns, times in the tenant's zone,
queries that do not grow with the rows, no payload columns loaded, no exact count of a big
set, filters that do not read the table, deep pages read through ids first."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connector.documents import document_receive
from connector.listing import LargeTablePaginator
from connector.models import Attempt, AuditEvent, Document, DocumentState, SyncRun
from tenants.models import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("admin:connector_document_changelist")
AUDIT = reverse("admin:connector_auditevent_changelist")
ATTEMPTS = reverse("admin:connector_attempt_changelist")
RUNS = reverse("admin:connector_syncrun_changelist")


def make_documents(tenant, count: int, *, start: int = 1) -> list[Document]:
    """`count` failed documents, each with an attempt and an audit event, written in bulk."""
    documents = Document.objects.bulk_create([
        Document(tenant=tenant, flow="echo", external_key=f"K-{n}", raw="payload " * 50, reference=f"INV-{n:05d}",
                 counterparty=f"Client {n}", partner="Harbor", amount=Decimal("12.50"), currency="USD",
                 state=DocumentState.FAILED, last_error=f"no partner for client {n}", step="send",
                 search_text=f" | inv-{n:05d} | client {n} | k-{n} | ",
                 created_at=timezone.now() + timedelta(seconds=n))
        for n in range(start, start + count)])
    documents = list(Document.objects.filter(tenant=tenant, external_key__in=[d.external_key for d in documents]))
    AuditEvent.objects.bulk_create([AuditEvent(tenant=tenant, document=d, action="received", to_state="received")
                                    for d in documents])
    Attempt.objects.bulk_create([Attempt(document=d, step="send", trigger="scheduled", failure_kind="config",
                                         error="no partner", calls=[{"method": "GET", "path": "/x", "status": 200}])
                                 for d in documents])
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", counts={"seen": count})
    return sorted(documents, key=lambda d: d.pk)


@pytest.fixture
def tenant(echo_flow):
    return make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")


def queries_of(client, url: str, params: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.status_code
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("who", ["superuser", "tenant user"])
@pytest.mark.parametrize("url,params", [(LIST, {}), (LIST, {"q": "inv-0"}), (LIST, {"state__exact": "failed"}),
                                        (AUDIT, {}), (AUDIT, {"q": "inv-0"}), (ATTEMPTS, {}), (RUNS, {})])
def test_a_list_runs_as_many_queries_for_three_hundred_rows_as_for_one_hundred(client, tenant, who, url, params):
    user = make_user(superuser=True) if who == "superuser" else make_user(tenant=tenant, role=Role.SUPPORT)
    client.force_login(user)
    make_documents(tenant, 101)  # more than a page: the same path as any larger list
    few = queries_of(client, url, params)
    make_documents(tenant, 200, start=102)
    many = queries_of(client, url, params)
    assert len(many) == len(few), "\n".join(many)
    assert not any("DISTINCT" in sql for sql in many), "no filter reads its choices from the table"


def test_the_list_shows_business_columns_and_times_in_the_tenants_zone(client, tenant):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 1)
    html = client.get(LIST).content.decode()
    for text in ("INV-00001", "Client 1", "Harbor", "12.50 USD", "Failed", "no partner for client 1"):
        assert text in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", html), "received at, New York time, zone named"
    assert "0 s" in html or " s<" in html, "the age column"


def test_the_document_page_shows_its_times_in_the_tenants_zone(client, tenant):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    (document,) = make_documents(tenant, 1)
    html = client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", html)) >= 3, "received, changed, audit trail"


def test_list_pages_do_not_load_payload_columns(client, tenant):
    client.force_login(make_user(superuser=True))
    make_documents(tenant, 3)
    for url in (LIST, AUDIT, ATTEMPTS):
        for sql in queries_of(client, url):
            assert '"connector_document"."raw"' not in sql and '"connector_document"."artifact"' not in sql, sql
            assert '"connector_document"."mapped"' not in sql and '"connector_attempt"."calls"' not in sql, sql


def test_a_big_set_is_never_counted_exactly(client, tenant, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_up_to", 5)
    monkeypatch.setattr("connector.admin.DocumentAdmin.list_per_page", 4)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 12)
    sqls = queries_of(client, LIST)
    counts = [sql for sql in sqls if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 6" in sql for sql in counts), counts
    html = client.get(LIST, {"q": "inv"}).content.decode()
    assert "more than 4 documents" in html, "a search stops at the cap's last whole page (tests/engine/test_search_cap.py)"


def test_a_deep_page_reads_its_ids_first_then_its_rows(client, tenant, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_up_to", 5)
    monkeypatch.setattr("connector.admin.DocumentAdmin.list_per_page", 4)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 12)
    html = client.get(LIST, {"p": 3}).content.decode()
    shown = re.findall(r"INV-000(\d\d)", html)
    assert shown == ["04", "03", "02", "01"], "page 3 of 4 per page, newest first"
    assert "more than 12" not in html


def test_a_search_finds_a_number_by_any_part_of_it(client, tenant):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 12)
    html = client.get(LIST, {"q": "0011"}).content.decode()
    assert "INV-00011" in html and "INV-00010" not in html
    html = client.get(LIST, {"q": "12"}).content.decode()
    assert "INV-00012" not in html and "Type at least 3 characters" in html, "two characters are too few"
    assert "INV-00012" in client.get(LIST, {"q": "12 inv-00012"}).content.decode(), "a short word is left out"


def test_another_tenants_documents_are_neither_listed_nor_found_nor_downloadable(client, tenant):
    other = make_tenant("Beta", slug="beta")
    (theirs,) = make_documents(other, 1)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 1, start=2)
    assert "INV-00001" not in client.get(LIST, {"q": "inv"}).content.decode()
    download = reverse("admin:connector_document_download", args=[theirs.pk, "raw"])
    assert client.get(download).status_code == 404


def test_a_document_downloads_its_input_as_received(client, tenant):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    document, _ = document_receive(tenant=tenant, flow="echo", external_key="K-é", raw='{"name": "Müller"}\r\n')
    response = client.get(reverse("admin:connector_document_download", args=[document.pk, "raw"]))
    assert response.content == '{"name": "Müller"}\r\n'.encode()
    assert response["Content-Type"] == "application/json"
    assert client.get(reverse("admin:connector_document_download", args=[document.pk, "secret"])).status_code == 404


def test_the_audit_list_filters_by_action_and_who_without_reading_the_table(client, tenant):
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 2)
    html = client.get(AUDIT, {"action": "received", "who": "system"}).content.decode()
    assert "INV-00001" in html and "INV-00002" in html
    assert "INV-00001" not in client.get(AUDIT, {"who": "person"}).content.decode()


def test_past_what_it_counts_the_list_shows_the_estimate_and_a_page_it_promised_is_empty(client, tenant, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_up_to", 5)
    monkeypatch.setattr("connector.admin.DocumentAdmin.list_per_page", 4)
    monkeypatch.setattr("connector.listing._estimate", lambda qs: 480_123)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    make_documents(tenant, 12)
    assert "about 480,000 documents" in client.get(LIST).content.decode()
    far = client.get(LIST, {"p": 50})
    assert far.status_code == 200 and "INV-000" not in far.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_action_on_a_searched_list_runs_outside_any_transaction(client, tenant, monkeypatch):
    """A search's page runs in a transaction (PostgreSQL); a replay must never: its steps
    commit before they reach outside systems."""
    seen = []

    def replay_queue(documents, *, user):
        seen.append(connection.in_atomic_block)
        return list(documents), []

    monkeypatch.setattr("connector.admin.documents_replay_queue", replay_queue)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    (document,) = make_documents(tenant, 1)
    response = client.post(f"{LIST}?q=inv-00001", {"action": "replay_selected", "_selected_action": [document.pk],
                                                   "confirm": "yes"})
    assert response.status_code == 302 and seen == [False]
    assert client.get(LIST, {"q": "inv-00001"}).status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout and planner settings are PostgreSQL's")
def test_a_search_the_planner_cannot_answer_in_time_is_read_with_bitmap_scans_only(monkeypatch):
    from connector import search

    monkeypatch.setattr(search, "SEARCH_FIRST_TRY_MS", 50)
    seen = []

    def read():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('work_mem')")
            seen.append(cursor.fetchone())
            if len(seen) == 1:
                cursor.execute("SELECT pg_sleep(1)")  # the planner's plan, walking every row
        return seen[-1]

    reads = search.SearchReads()
    assert reads.read(Document.objects.all(), read) == ("off", search.BITMAP_WORK_MEM)
    assert seen[0][0] == "on" and reads.planner_ran_out
    assert reads.read(Document.objects.all(), read) == ("off", search.BITMAP_WORK_MEM), "the rest go bounded at once"
    assert len(seen) == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('statement_timeout')")
        assert cursor.fetchone() == ("on", "0"), "each try's settings are undone with its savepoint"
