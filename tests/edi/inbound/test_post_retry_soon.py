"""A 500 from PostTransFile after which the ledger shows the batch not posted is retried in
seconds (the batch waits in data entry; the retry looks at the ledger first again), not on the
one-minute schedule. Anything that does not prove it keeps the schedule."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from connector.celery import app
from connector.models import DocumentState, Trigger
from connector.queue import PROCESS_DOCUMENT, document_queue_retry
from connector.replay import documents_retry_due
from connector.retry import RETRY_SCHEDULE, SOON_RETRIES, next_retry_delay

from .conftest import ap_rows, document_for, poll
from .test_posting import drop_invoice

pytestmark = pytest.mark.django_db

POST_TRANS_FILE = "/DataEntry/PostTransFile"


def wait_of(document) -> timedelta:
    return document.next_attempt_at - document.updated_at


def test_a_post_trans_file_500_proved_unposted_is_retried_in_seconds(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.fail(500, path=POST_TRANS_FILE, method="PUT", times=1)
    drop_invoice(cleo_sim, "p500.edi", "SF-800", interchange=801, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-800")
    assert (document.state, document.step) == (DocumentState.RETRYING, "post")
    assert timedelta(seconds=5) <= wait_of(document) <= timedelta(seconds=15), wait_of(document)
    assert not ap_rows(vp_sim, document.effects.get(name="post").key), "nothing posted"

    assert documents_retry_due(now=document.next_attempt_at) == 1
    document.refresh_from_db()
    assert document.state == DocumentState.POSTED
    assert len(ap_rows(vp_sim, document.effects.get(name="post").key)) == 1
    assert len(vp_sim.requests_to(POST_TRANS_FILE, "PUT")) == 2


def test_a_lost_answer_keeps_the_schedule(edi_tenant, partner, cleo_sim, vp_sim):
    """The connection dropped: Vantagepoint may still be posting, so no early retry."""
    vp_sim.faults.drop(path=POST_TRANS_FILE, method="PUT", times=None)
    drop_invoice(cleo_sim, "lost.edi", "SF-801", interchange=802, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-801")
    assert document.state == DocumentState.RETRYING
    assert wait_of(document) >= RETRY_SCHEDULE[0] * 0.9


def test_a_batch_create_503_keeps_the_schedule(edi_tenant, partner, cleo_sim, vp_sim):
    vp_sim.faults.fail(503, path="/DataEntry/apControl", method="POST", times=None)
    drop_invoice(cleo_sim, "busy.edi", "SF-802", interchange=803, po="2023001.00")
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-802")
    assert document.state == DocumentState.RETRYING
    assert wait_of(document) >= RETRY_SCHEDULE[0] * 0.9


def test_soon_retries_are_few_then_the_schedule_tail():
    soon = [next_retry_delay(n, retry_in=10) for n in range(SOON_RETRIES + 1)]
    assert all(timedelta(seconds=9) <= d <= timedelta(seconds=11) for d in soon[:SOON_RETRIES])
    assert soon[SOON_RETRIES] >= RETRY_SCHEDULE[SOON_RETRIES] * 0.9
    assert next_retry_delay(0, retry_in=10, retry_after=120) >= timedelta(seconds=108), "Retry-After still rules"


def test_the_early_retry_is_queued_with_its_eta_for_a_worker(edi_tenant):
    from connector.models import Document

    document = Document.objects.create(tenant=edi_tenant, flow="810-ap", external_key="k", state="retrying")
    at = timezone.now() + timedelta(seconds=10)
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(app.tasks[PROCESS_DOCUMENT], "apply_async") as queued:
            assert document_queue_retry(document.pk, at=at)
    finally:
        app.conf.task_always_eager = True
    queued.assert_called_once_with(kwargs={"document_id": document.pk, "trigger": Trigger.RETRY, "user_id": None},
                                   eta=at)
    document.refresh_from_db()
    assert document.queued_at is not None, "the beat does not queue it a second time"
