"""A replay after a mapping change resolves again: a post that failed is not retried with the
voucher resolved before a human fixed the mapping, and a post Vantagepoint refused for a
record it names (an inactive vendor) resolves again and parks naming what to map. A post that
may have happened is never resolved again: it is looked for, and never made twice."""
from __future__ import annotations

import pytest

from connector.models import DocumentState, EffectState
from connector.replay import document_replay
from connector.vantagepoint import VantagepointClient
from edi.inbound.flow import ap_810_resume_at
from edi.models import MappingKind, MappingOverride

from .conftest import SNACKS_SENDER, ap_rows, document_for, poll
from .test_posting import ProcessKilled, drop_invoice

pytestmark = pytest.mark.django_db

SENDER = f"ZZ:{SNACKS_SENDER}"
AP_CREATE = "/DataEntry/apControl"


def vendors_posted(vp_sim, invoice: str) -> list[str]:
    return [r["Vendor"] for r in vp_sim.ledger("AP") if r["Invoice"] == invoice]


def test_a_replay_after_the_vendor_mapping_changed_posts_to_the_new_vendor(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.fail(503, path=AP_CREATE, method="POST", times=None)
    drop_invoice(cleo_sim, "busy.edi", "SF-701", interchange=701, po="2023001.00")
    poll(edi_tenant)
    document = document_for(edi_tenant, "SF-701")
    assert (document.state, document.step) == (DocumentState.RETRYING, "post")
    assert document.mapped["voucher"]["vendor"] == "V90001", "the partner's default vendor"

    vp_sim.faults.clear()
    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.VENDOR, source_value=SENDER, target="V90002")
    document_replay(document, user=None)

    assert document.state == DocumentState.POSTED, document.last_error
    assert vendors_posted(vp_sim, "SF-701") == ["V90002"]
    assert document.attempts.filter(step="resolve").count() == 2
    assert document.audit_events.filter(action="replay",
                                        reason__contains="resume at step 'resolve': the mappings changed").exists()


def test_a_post_refused_for_an_inactive_vendor_resolves_again_and_names_what_to_map(edi_tenant, partner, cleo_sim,
                                                                                     vp_sim):
    def vendor_goes_inactive():
        vp_sim.tables.vendor("V90001")["Status"] = "I"

    vp_sim.faults.call(vendor_goes_inactive, path=AP_CREATE, method="POST")  # after resolve checked it
    drop_invoice(cleo_sim, "inactive.edi", "SF-702", interchange=702, po="2023001.00")
    poll(edi_tenant)
    document = document_for(edi_tenant, "SF-702")
    assert (document.state, document.step, document.failure_kind) == (DocumentState.FAILED, "post", "data")
    assert "Vendor 'V90001' is inactive" in document.last_error

    document_replay(document, user=None)  # nothing changed on our side: resolve sees what Vantagepoint saw
    assert document.state == DocumentState.NEEDS_MAPPING
    assert document.last_error == ("vendor V90001 is inactive in Vantagepoint "
                                   "(from the default vendor of partner Snack Foods)")
    assert document.mapped["missing"][0]["kind"] == "vendor"

    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.VENDOR, source_value=SENDER, target="V90002")
    document_replay(document, user=None)
    assert document.state == DocumentState.POSTED, document.last_error
    assert vendors_posted(vp_sim, "SF-702") == ["V90002"]
    assert document.external_ids["vantagepoint"]["batch"] == document.effects.get(name="post").key


def test_a_post_that_may_have_happened_is_looked_for_not_resolved_again(edi_tenant, partner, cleo_sim, vp_sim,
                                                                        monkeypatch):
    post = VantagepointClient.post_ap_voucher_batch

    def post_then_die(self, batch):
        post(self, batch)
        raise ProcessKilled("worker killed after Vantagepoint posted, before our commit")

    monkeypatch.setattr(VantagepointClient, "post_ap_voucher_batch", post_then_die)
    drop_invoice(cleo_sim, "crash.edi", "SF-703", interchange=703, po="2023001.00")
    with pytest.raises(ProcessKilled):
        poll(edi_tenant)
    monkeypatch.setattr(VantagepointClient, "post_ap_voucher_batch", post)
    document = document_for(edi_tenant, "SF-703")
    assert document.effects.get(name="post").state == EffectState.UNKNOWN

    MappingOverride.objects.create(tenant=edi_tenant, kind=MappingKind.VENDOR, source_value=SENDER, target="V90002")
    assert ap_810_resume_at(document) is None, "the post may have happened: never re-resolved"
    document_replay(document, user=None)

    assert document.state == DocumentState.POSTED
    assert document.effects.get(name="post").confirmed_by == "look"
    assert vendors_posted(vp_sim, "SF-703") == ["V90001"], "posted once, as it was"
    assert document.attempts.filter(step="resolve").count() == 1


def test_a_retry_with_nothing_changed_resumes_at_the_post(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.fail(503, path=AP_CREATE, method="POST", times=None)
    drop_invoice(cleo_sim, "busy2.edi", "SF-704", interchange=704, po="2023001.00")
    poll(edi_tenant)
    document = document_for(edi_tenant, "SF-704")
    assert ap_810_resume_at(document) is None

    vp_sim.faults.clear()
    document_replay(document, user=None)
    assert document.state == DocumentState.POSTED
    assert document.attempts.filter(step="resolve").count() == 1
    assert ap_rows(vp_sim, document.effects.get(name="post").key)
