"""A search whose words' letters and digits are in too many documents to check in time
("810-" is looked up as "810": pg_trgm keeps no punctuation) is stopped within its budget and
answered at once: no rows, a message naming the search and what to do, never a 500 and never
seconds of waiting. The document list and the searches that look documents up (audit events,
attempts) alike."""
from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.urls import reverse

from connector import search
from connector.models import AuditEvent
from tenants.models import Role
from tests.engine.test_document_list import make_documents
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("admin:connector_document_changelist")
AUDIT = reverse("admin:connector_auditevent_changelist")
ATTEMPTS = reverse("admin:connector_attempt_changelist")


@pytest.fixture
def tenant(echo_flow):
    return make_tenant("Alpha LLP", slug="alpha", time_zone="America/New_York")


@pytest.fixture
def too_broad(monkeypatch):
    """Every bounded search read runs out, as "810-" does in a tenant of 250,000 "…_810_…" files."""
    calls = []

    def read(self, queryset, read):
        calls.append(queryset.model)
        raise search.SearchTooBroad

    monkeypatch.setattr(search.SearchReads, "read", read)
    return calls


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("url", [LIST, AUDIT, ATTEMPTS])
def test_a_search_too_broad_to_check_in_time_answers_with_no_rows_and_says_what_to_do(client, tenant, too_broad, url):
    make_documents(tenant, 3)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    response = client.get(url, {"q": "810-"})
    assert response.status_code == 200
    assert too_broad, "the search was read the bounded way"
    assert response.context["cl"].result_count == 0 and list(response.context["cl"].result_list) == []
    [message] = messages_of(response)
    assert message.startswith("The search for “810-” was stopped after ")
    assert "Add characters or another word" in message and '"810-" is looked up as "810"' in message
    assert response.context["cl"].query == "810-", "the search box keeps what was typed"


def test_a_search_that_is_not_too_broad_is_not_stopped(client, tenant):
    make_documents(tenant, 3)
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    response = client.get(LIST, {"q": "inv"})
    assert response.status_code == 200 and response.context["cl"].result_count == 3
    assert messages_of(response) == []


def test_an_audit_search_too_broad_still_finds_a_user_by_name(client, tenant, too_broad):
    """The user-name half of an audit search is an exact lookup: it still answers."""
    user = make_user(tenant=tenant, role=Role.SUPPORT, username="mara")
    AuditEvent.objects.create(tenant=tenant, user=user, actor="mara", action="replay", reason="asked by finance")
    client.force_login(user)
    response = client.get(AUDIT, {"q": "mara"})
    assert response.status_code == 200
    assert [e.actor for e in response.context["cl"].result_list] == ["mara"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_the_bounded_read_running_out_too_raises_search_too_broad_and_undoes_its_settings(monkeypatch):
    monkeypatch.setattr(search, "SEARCH_FIRST_TRY_MS", 20)
    monkeypatch.setattr(search, "SEARCH_BOUNDED_MS", 40)
    tries = []

    def read():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('statement_timeout')")
            tries.append(cursor.fetchone())
            cursor.execute("SELECT pg_sleep(1)")  # every plan reads every candidate
        return tries[-1]

    from connector.models import Document

    with transaction.atomic():
        with pytest.raises(search.SearchTooBroad, match="Add characters or another word"):
            search.SearchReads().read(Document.objects.all(), read)
        assert tries == [("on", "20ms"), ("off", "40ms")]
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('statement_timeout')")
            assert cursor.fetchone() == ("on", "0"), "the transaction goes on, each try's settings undone"
