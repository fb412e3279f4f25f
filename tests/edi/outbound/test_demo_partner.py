"""The demo's simulated customer partner answers our 810s with 997s, the second one a
rejection, and the Cleo inbox applies them: the demo shows acknowledged and rejected 810s."""
from __future__ import annotations

import httpx
import pytest

from connector.models import Document, DocumentState
from edi.demo_partner import partner_answer_once
from edi.outbound import AR_810
from tests.edi.conftest import CLEO_URL as CLEO_URL_FOR_TESTS

from .conftest import run_cycle
from .test_cycle import post_invoices

pytestmark = pytest.mark.django_db


def test_the_demo_partner_acknowledges_our_810s_and_rejects_one(edi_tenant, vp_sim, cleo_sim, partner, after_seed):
    from edi.inbox import INBOX

    post_invoices(vp_sim, 3)
    run_cycle(edi_tenant)
    answered: dict[str, str] = {}
    with httpx.Client(base_url=CLEO_URL_FOR_TESTS, transport=cleo_sim.transport()) as http:
        first = partner_answer_once(http, answered)
        assert partner_answer_once(http, answered) == [], "each 810 is answered once"
    assert [outcome for _, outcome in first] == ["accepted", "rejected", "accepted"]

    run_cycle(edi_tenant, flow=INBOX)

    by_name = {d.artifact_name: d for d in Document.objects.filter(flow=AR_810)}
    states = [by_name[name].state for name, _ in first]
    assert states == [DocumentState.ACKNOWLEDGED, DocumentState.REJECTED, DocumentState.ACKNOWLEDGED]
    rejected = by_name[first[1][0]]
    assert "AK4 N402 code 5: element too long" in rejected.last_error
