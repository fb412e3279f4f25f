"""The business columns come from the flow's summarize hook, follow what the document holds
through its steps, never stop its processing, and are backfilled for older rows."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from connector import flows
from connector.documents import document_receive
from connector.models import Document, DocumentState, Trigger
from connector.pipeline import document_process
from connector.summary import DocumentSummary, search_text_for
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def echo_summary(document) -> DocumentSummary:
    ids = document.external_ids or {}
    return DocumentSummary(reference=f"INV-{document.external_key}", counterparty="Acme Corp", partner="Harbor",
                           amount=Decimal("1250.5"), currency="usd", search_terms=(ids.get("echo_id", ""),))


@pytest.fixture
def summarized_echo(echo_flow, monkeypatch):
    monkeypatch.setitem(flows._registry, "echo", dataclasses.replace(echo_flow.ECHO_FLOW, summarize=echo_summary))
    return echo_flow


def test_a_received_document_is_summarized_and_follows_its_steps(summarized_echo):
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="77", raw="payload")
    stored = Document.objects.get(pk=document.pk)
    assert (stored.reference, stored.counterparty, stored.partner) == ("INV-77", "Acme Corp", "Harbor")
    assert (stored.amount, stored.currency) == (Decimal("1250.50"), "USD")
    assert "e-77" not in stored.search_text

    document_process(document, trigger=Trigger.SCHEDULED)
    stored.refresh_from_db()
    assert stored.state == DocumentState.SENT
    assert " | e-77 | " in stored.search_text, "an external id set by a step becomes searchable"


def test_a_failing_hook_never_stops_a_document(echo_flow, monkeypatch, caplog):
    def broken(document):
        raise KeyError("invoice")

    monkeypatch.setitem(flows._registry, "echo", dataclasses.replace(echo_flow.ECHO_FLOW, summarize=broken))
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="78", raw="payload")
    document_process(document, trigger=Trigger.SCHEDULED)
    assert document.state == DocumentState.SENT and document.reference == ""
    assert "summarize failed" in caplog.text


def test_search_words_hold_short_ids_whole_and_leave_prose_out(echo_flow):
    document = Document(flow="echo", external_key="K-1", artifact_name="810-K-1.edi", source="Inbound/a.edi",
                        external_ids={"cleo_file_id": "F-99", "ack": {"outcome": "x" * 300, "source": "In/997.edi"},
                                      "numbers": [1, 2], "flag": True})
    text = search_text_for(document, DocumentSummary(reference="DS-1002"))
    assert text.startswith(" | ds-1002 | ") and text.endswith(" | ")
    for word in ("k-1", "810-k-1.edi", "inbound/a.edi", "f-99", "in/997.edi", " 1 ", " 2 "):
        assert word in text
    assert "xxx" not in text and "true" not in text


def test_the_backfill_fills_older_documents_and_leaves_summarized_ones(summarized_echo):
    tenant = make_tenant()
    older = Document.objects.bulk_create([Document(tenant=tenant, flow="echo", external_key=f"B-{n}", raw="r")
                                          for n in range(5)])
    assert {d.reference for d in Document.objects.filter(pk__in=[d.pk for d in older])} == {""}
    out = StringIO()
    call_command("documents_summarize", "--batch", "2", stdout=out)
    assert out.getvalue().strip() == "5 document(s) summarized"
    assert sorted(Document.objects.values_list("reference", flat=True)) == [f"INV-B-{n}" for n in range(5)]
    call_command("documents_summarize", stdout=out)
    assert out.getvalue().strip().endswith("0 document(s) summarized")
