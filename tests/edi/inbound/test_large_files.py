"""A file over its partner's maximum size is refused before it is downloaded: the ledger names
it and why (no bytes), the file stays in Cleo, nothing is imported; once the maximum is
raised, a replay takes it in."""
from __future__ import annotations

import pytest

from connector.models import DocumentState
from connector.replay import document_replay
from edi.inbox import INBOX
from edi.models import DEFAULT_MAX_INBOUND_BYTES, InboundFile, InboundFileStatus, TradingPartner

from .conftest import SNACKS_SENDER, documents, poll
from .test_posting import drop_invoice

pytestmark = pytest.mark.django_db


def test_the_default_maximum_is_20_mb():
    assert TradingPartner._meta.get_field("max_inbound_bytes").default == DEFAULT_MAX_INBOUND_BYTES == 20 * 2 ** 20


def test_a_file_over_the_partners_maximum_is_refused_kept_in_cleo_and_taken_in_once_raised(
        edi_tenant, partner, cleo_sim, vp_sim):
    drop_invoice(cleo_sim, "large.edi", "SF-900", interchange=901, po="2023001.00")
    size = len(cleo_sim.files("Inbound")[0].content)
    TradingPartner.objects.filter(pk=partner.pk).update(max_inbound_bytes=size - 1)
    poll(edi_tenant)

    entry = InboundFile.objects.get(tenant=edi_tenant, name="large.edi")
    assert entry.status == InboundFileStatus.TOO_LARGE and bytes(entry.raw) == b"" and entry.size == size
    assert entry.note.startswith(f"refused: {size:,} bytes, over partner Snack Foods's maximum of {size - 1:,} bytes")
    assert "The file stays in Cleo (Inbound/large.edi)" in entry.note
    file_document = entry.document
    assert (file_document.state, file_document.step, file_document.failure_kind) == (
        DocumentState.FAILED, "download", "data")
    assert "refused" in file_document.last_error
    assert [f.name for f in cleo_sim.files("Inbound")] == ["large.edi"], "kept where it was"
    assert documents(edi_tenant) == [], "nothing imported"
    assert not cleo_sim.calls_to(path_contains="/content", method="GET"), "refused before downloading"

    TradingPartner.objects.filter(pk=partner.pk).update(max_inbound_bytes=size)
    document_replay(file_document, user=None)
    entry.refresh_from_db()
    assert entry.status == InboundFileStatus.IMPORTED and entry.size == size and len(bytes(entry.raw)) == size
    assert [d.state for d in documents(edi_tenant)] == [DocumentState.POSTED]
    assert cleo_sim.files("Inbound") == []


def test_a_file_whose_listing_hides_its_size_is_stopped_while_downloading(edi_tenant, partner, cleo_sim, vp_sim,
                                                                          monkeypatch):
    from edi.cleo import resources

    drop_invoice(cleo_sim, "unsized.edi", "SF-901", interchange=902, po="2023001.00")
    size = len(cleo_sim.files("Inbound")[0].content)
    TradingPartner.objects.filter(pk=partner.pk).update(max_inbound_bytes=size // 2)
    real = resources.CleoFile.from_json.__func__

    def without_size(cls, data):
        return real(cls, {k: v for k, v in data.items() if k != "size"})

    monkeypatch.setattr(resources.CleoFile, "from_json", classmethod(without_size))
    poll(edi_tenant)

    entry = InboundFile.objects.get(tenant=edi_tenant, name="unsized.edi")
    assert entry.status == InboundFileStatus.TOO_LARGE
    assert entry.note.startswith("refused: more than ")
    assert entry.document.flow == INBOX and entry.document.state == DocumentState.FAILED
    assert SNACKS_SENDER and documents(edi_tenant) == []
