"""A stream's page received at once (connector.documents.documents_receive): one commit for its
new documents and their audit events, duplicates recognised, and a lost race still one document."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connector import documents as documents_module
from connector.documents import document_receive, documents_receive
from connector.models import AuditEvent, Document, DocumentState
from tests.echo_flow import ECHO
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def page(*keys: str) -> list[dict]:
    return [{"external_key": k, "raw": f"raw {k}", "source": f"record {k}", "mapped": None} for k in keys]


def test_a_page_is_received_in_one_insert_of_documents_and_one_of_audit_events():
    tenant = make_tenant()
    document_receive(tenant=tenant, flow=ECHO, external_key="A-1", raw="raw A-1")

    with CaptureQueriesContext(connection) as captured:
        new, duplicate = documents_receive(tenant=tenant, flow=ECHO, records=page("A-1", "A-2", "A-3", "A-2"))

    assert (new, duplicate) == (2, 2), "A-1 was there; the second A-2 is the first one again"
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2, inserts
    received = Document.objects.filter(tenant=tenant, flow=ECHO).order_by("external_key")
    assert [(d.external_key, d.raw, d.source, d.state) for d in received] == [
        ("A-1", "raw A-1", "", DocumentState.RECEIVED), ("A-2", "raw A-2", "record A-2", DocumentState.RECEIVED),
        ("A-3", "raw A-3", "record A-3", DocumentState.RECEIVED)]
    audits = AuditEvent.objects.filter(document__external_key__in=["A-2", "A-3"], action="received")
    assert sorted(a.reason for a in audits) == ["record A-2", "record A-3"]


def test_a_record_another_process_created_meanwhile_is_found_not_doubled(monkeypatch):
    """The lookup saw nothing; by the insert, another cycle had created B-2: the page falls back
    to one record at a time, the unique constraint deciding."""
    tenant = make_tenant()
    manager = Document.objects
    real_filter = manager.filter

    class RaceAfterLookup:
        def __getattr__(self, name):
            return getattr(manager, name)

        def filter(self, **kwargs):
            found = real_filter(**kwargs)
            if "external_key__in" in kwargs:
                document_receive(tenant=tenant, flow=ECHO, external_key="B-2", raw="theirs")
                return real_filter(pk__in=[])  # what the lookup saw: nothing yet
            return found

    monkeypatch.setattr(documents_module.Document, "objects", RaceAfterLookup())
    try:
        new, duplicate = documents_receive(tenant=tenant, flow=ECHO, records=page("B-1", "B-2"))
    finally:
        monkeypatch.undo()

    assert (new, duplicate) == (1, 1)
    received = {d.external_key: d.raw for d in Document.objects.filter(tenant=tenant, flow=ECHO)}
    assert received == {"B-1": "raw B-1", "B-2": "theirs"}
