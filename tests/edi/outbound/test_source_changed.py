"""An AR invoice edited in Vantagepoint after its 810 went out is noticed by the next ar-810
cycle: the document is flagged (field, audit event, badge on its page and in the list) and
counted on the overview; the 810 is not sent again. A save that changed nothing is no change."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from connector.models import Document, DocumentState
from edi.outbound import AR_810
from tests.factories import make_user

from .conftest import outbound_files, run_cycle
from .test_cycle import post_invoices

pytestmark = pytest.mark.django_db


def edit_invoice(vp_sim, posted: dict, *, amount: Decimal | None = None) -> None:
    """Someone edits the posted invoice in Vantagepoint (or only saves it again)."""
    vp_sim.clock.advance(120)
    rows = [r for r in vp_sim.tables.ledgers["IN"]
            if (r["Invoice"], r["Period"], r["PostSeq"]) == (posted["Invoice"], posted["Period"], posted["PostSeq"])]
    if amount is not None:
        rows[0]["Amount"] = amount
    vp_sim.touch_invoice(posted["Invoice"], posted["Period"], posted["PostSeq"])


def test_an_invoice_edited_after_its_810_went_out_is_flagged_not_resent(client, edi_tenant, vp_sim, cleo_sim,
                                                                        partner, after_seed):
    edited, saved = post_invoices(vp_sim, 2)
    run_cycle(edi_tenant)
    assert Document.objects.filter(flow=AR_810, state=DocumentState.SENT).count() == 2
    files = outbound_files(cleo_sim)

    edit_invoice(vp_sim, edited, amount=Decimal("999.00"))
    edit_invoice(vp_sim, saved)  # saved again, nothing changed
    run = run_cycle(edi_tenant)

    document = Document.objects.get(flow=AR_810, reference=edited["Invoice"])
    untouched = Document.objects.get(flow=AR_810, reference=saved["Invoice"])
    assert document.source_changed_at is not None and untouched.source_changed_at is None
    assert document.state == DocumentState.SENT, "its state is what the partner has"
    change = document.external_ids["source_changed"]
    assert change["total_now"] != change["total_sent"] and "total" in change["what"]
    event = document.audit_events.get(action="source_changed")
    assert f"invoice {edited['Invoice']} changed in Vantagepoint after its 810 was sent" in event.reason
    assert "not sent again" in event.reason
    assert outbound_files(cleo_sim) == files, "nothing sent again"
    assert run.counts.get("source_changed") == 1

    run_cycle(edi_tenant)  # the same change read again is not a new one
    assert document.audit_events.filter(action="source_changed").count() == 1

    client.force_login(make_user("fiona", tenant=edi_tenant))
    listing = client.get(reverse("admin:connector_document_changelist") + "?source_changed_at__isnull=False")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "changed in source" in html and edited["Invoice"] in html and saved["Invoice"] not in html
    page = client.get(reverse("admin:connector_document_change", args=[document.pk])).content.decode()
    assert "changed in source" in page
    overview = client.get(reverse("admin:index")).content.decode()
    assert 'id="console-source-changed"' in overview
    assert "1 AR invoice to 810 (Cleo)" in overview


def test_no_change_no_badge_on_the_overview(client, edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    post_invoices(vp_sim, 1)
    run_cycle(edi_tenant)
    client.force_login(make_user("fiona", tenant=edi_tenant))
    assert 'id="console-source-changed"' not in client.get(reverse("admin:index")).content.decode()
    assert not Document.objects.filter(source_changed_at__isnull=False).exists()
