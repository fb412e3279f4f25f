"""Retention of the webhook ledger's deliveries to no known endpoint (404): they belong to no
tenant, so the periodic retention sweep clears their body and headers after one period and
deletes the rows after a longer one, in batches, leaving every tenant's deliveries to the
tenant's own policy."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.checks import unknown_endpoint_retention_check
from billing.models import DeliveryOutcome, WebhookDelivery
from console.retention import retention_step, unowned_retention_jobs
from console.tasks import retention_sweep

from .conftest import deliver, signed_event

pytestmark = pytest.mark.django_db
JOBS = ["unowned-purge:stripe-webhook-unknown-endpoint", "unowned-delete:stripe-webhook-unknown-endpoint"]


def _unknown(client, days_old: int) -> WebhookDelivery:
    body, signature = signed_event(f"evt_lost_{uuid.uuid4().hex[:8]}")
    response = client.post(f"/stripe/webhooks/{uuid.uuid4()}/", data=body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=signature)
    assert response.status_code == 404
    delivery = WebhookDelivery.objects.latest("pk")
    assert delivery.tenant_id is None and delivery.endpoint_id is None and delivery.headers
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=timezone.now() - timedelta(days=days_old))
    return delivery


def _state(delivery: WebhookDelivery) -> str:
    row = WebhookDelivery.objects.filter(pk=delivery.pk).first()
    if row is None:
        return "deleted"
    return "cleared" if (bytes(row.body), row.headers) == (b"", {}) else "kept"


def test_the_retention_sweep_clears_then_deletes_deliveries_to_no_endpoint_in_batches(
        client, endpoint, settings, monkeypatch):
    settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS, settings.RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS = 30, 180
    young = _unknown(client, days_old=10)
    aged = [_unknown(client, days_old=40) for _ in range(5)]
    ancient = [_unknown(client, days_old=200) for _ in range(3)]
    body, signature = signed_event("evt_a_tenant_s")
    assert deliver(client, endpoint, body, signature).status_code == 200
    tenants = WebhookDelivery.objects.get(outcome=DeliveryOutcome.ACCEPTED)
    WebhookDelivery.objects.filter(pk=tenants.pk).update(received_at=timezone.now() - timedelta(days=400))
    batches: list[tuple[str, int]] = []

    def in_twos(**kwargs):
        batches.append((kwargs["job"], kwargs["tenant_id"]))
        return retention_step(**{**kwargs, "batch_size": 2})

    monkeypatch.setattr("console.tasks.retention_step", in_twos)
    assert unowned_retention_jobs() == JOBS
    retention_sweep.delay().get()

    assert _state(young) == "kept"
    assert [_state(d) for d in aged] == ["cleared"] * 5
    assert [_state(d) for d in ancient] == ["deleted"] * 3
    tenants.refresh_from_db()
    assert tenants.headers and tenants.event_id, "a tenant's delivery: its policy's, its row kept"
    unowned = [job for job, tenant_id in batches if tenant_id is None]
    assert unowned.count(JOBS[0]) >= 3 and unowned.count(JOBS[1]) == 2, "batches of two, each requeued"
    assert all(tenant_id is None for job, tenant_id in batches if job in JOBS)

    retention_sweep.delay().get()  # nothing twice
    assert WebhookDelivery.objects.filter(tenant__isnull=True).count() == 6


def test_the_periods_are_read_when_the_sweep_runs(client, settings):
    delivery = _unknown(client, days_old=8)
    now = timezone.now()
    assert retention_step(tenant_id=None, job=JOBS[0], now=now).cleared == 0
    settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS = 7
    assert retention_step(tenant_id=None, job=JOBS[0], now=now).cleared == 1
    settings.RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS = 7
    assert retention_step(tenant_id=None, job=JOBS[1], now=now).cleared == 1
    assert _state(delivery) == "deleted"


def test_bad_periods_are_named_at_start(settings):
    assert unknown_endpoint_retention_check() == []
    settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS, settings.RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS = 60, 30
    [error] = unknown_endpoint_retention_check()
    assert error.id == "billing.E002" and "RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS (30)" in error.msg
    settings.RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS = 0
    [error] = unknown_endpoint_retention_check()
    assert error.id == "billing.E001" and "not 0" in error.msg


def test_a_job_of_no_tenant_and_a_tenant_job_without_a_tenant_are_named():
    now = timezone.now()
    with pytest.raises(ValueError, match="no rows of no tenant named 'nothing'"):
        retention_step(tenant_id=None, job="unowned-purge:nothing", now=now)
    with pytest.raises(ValueError, match="retention job 'purge:documents' is a tenant's: it needs a tenant id"):
        retention_step(tenant_id=None, job="purge:documents", now=now)
