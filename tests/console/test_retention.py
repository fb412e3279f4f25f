"""Retention: aged payloads cleared in batches (failures kept longer), rows, states and the
audit trail kept; old attempts and sync runs deleted; flows register their own payloads."""
from datetime import timedelta

import pytest
from django.utils import timezone

from connector.celery import app as celery_app
from connector.models import Attempt, AuditEvent, Document, DocumentState, SyncRun, SyncRunStatus
from console.models import RetentionPolicy
from console.retention import retention_jobs, retention_periods, retention_step, unowned_retention_jobs
from console.tasks import retention_purge, retention_sweep
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def document(tenant, key, state, *, days_old):
    doc = Document.objects.create(tenant=tenant, flow="echo", external_key=key, state=state, raw=f"RAW {key}",
                                  artifact=f"ISA {key}", mapped={"k": key})
    Document.objects.filter(pk=doc.pk).update(updated_at=NOW - timedelta(days=days_old))
    AuditEvent.objects.create(tenant=tenant, document=doc, action="received", to_state=state)
    Attempt.objects.create(document=doc, step="send", trigger="scheduled", calls=[{"method": "POST", "path": "/x"}],
                           started_at=NOW - timedelta(days=days_old))
    return doc


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_aged_payloads_are_cleared_and_failures_are_kept_longer():
    tenant = make_tenant()
    RetentionPolicy.objects.create(tenant=tenant, finished_payload_days=30, failed_payload_days=90)
    old_sent = document(tenant, "S-OLD", DocumentState.SENT, days_old=40)
    new_sent = document(tenant, "S-NEW", DocumentState.SENT, days_old=10)
    old_failed = document(tenant, "F-40", DocumentState.FAILED, days_old=40)
    ancient_failed = document(tenant, "F-100", DocumentState.NEEDS_MAPPING, days_old=100)
    in_flight = document(tenant, "R-100", DocumentState.RETRYING, days_old=100)
    result = retention_step(tenant_id=tenant.pk, job="purge:documents", now=NOW)
    assert result.cleared == 2 and not result.more
    cleared = {d.external_key for d in Document.objects.filter(raw="")}
    assert cleared == {"S-OLD", "F-100"}
    old_sent.refresh_from_db()
    assert (old_sent.raw, old_sent.artifact, old_sent.mapped, old_sent.state) == ("", "", {}, DocumentState.SENT)
    assert AuditEvent.objects.filter(document=old_sent).exists(), "the audit trail stays"
    for kept in (new_sent, old_failed, in_flight):
        kept.refresh_from_db()
        assert kept.raw.startswith("RAW") and kept.mapped
    assert old_sent.updated_at < NOW - timedelta(days=39), "clearing a payload is not a change of the document"

    retention_step(tenant_id=tenant.pk, job="purge:attempt-calls", now=NOW)
    assert set(Attempt.objects.filter(calls=[]).values_list("document__external_key", flat=True)) == {"S-OLD", "F-100"}
    assert retention_step(tenant_id=tenant.pk, job="purge:documents", now=NOW).cleared == 0, "nothing twice"
    assert ancient_failed.pk


def test_a_tenant_without_a_policy_gets_the_defaults_and_other_tenants_are_untouched(settings):
    tenant, other = make_tenant(), make_tenant()
    settings.RETENTION_DEFAULT_DAYS = {"finished_payload": 5, "failed_payload": 50, "attempts": 100, "sync_runs": 7}
    assert retention_periods(tenant_id=tenant.pk).finished_payload == timedelta(days=5)
    document(tenant, "A", DocumentState.SENT, days_old=6)
    document(other, "B", DocumentState.SENT, days_old=6)
    retention_step(tenant_id=tenant.pk, job="purge:documents", now=NOW)
    assert list(Document.objects.filter(raw="").values_list("external_key", flat=True)) == ["A"]


def test_old_attempts_and_sync_runs_are_deleted_but_a_running_cycle_stays():
    tenant = make_tenant()
    RetentionPolicy.objects.create(tenant=tenant, attempt_days=60, sync_run_days=10)
    doc = document(tenant, "A", DocumentState.SENT, days_old=90)
    Attempt.objects.create(document=doc, step="send", trigger="scheduled", started_at=NOW - timedelta(days=5))
    for days, status in ((20, SyncRunStatus.SUCCEEDED), (20, SyncRunStatus.RUNNING), (2, SyncRunStatus.SUCCEEDED)):
        SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=status,
                               started_at=NOW - timedelta(days=days))
    assert retention_step(tenant_id=tenant.pk, job="delete:attempts", now=NOW).cleared == 1
    assert Attempt.objects.filter(document=doc).count() == 1 and Document.objects.filter(pk=doc.pk).exists()
    assert retention_step(tenant_id=tenant.pk, job="delete:sync-runs", now=NOW).cleared == 1
    assert sorted(SyncRun.objects.values_list("status", flat=True)) == ["running", "succeeded"]


def test_the_task_requeues_itself_batch_after_batch(eager_celery, monkeypatch):
    tenant = make_tenant()
    RetentionPolicy.objects.create(tenant=tenant, finished_payload_days=1)
    for i in range(7):
        document(tenant, f"D{i}", DocumentState.SENT, days_old=3)
    calls = []
    real_step = retention_step

    def small_batches(**kwargs):
        calls.append(kwargs["after_id"])
        return real_step(**{**kwargs, "batch_size": 3})

    monkeypatch.setattr("console.tasks.retention_step", small_batches)
    retention_purge.delay(tenant_id=tenant.pk, job="purge:documents")
    assert len(calls) == 3 and calls[0] == 0 and calls[1] < calls[2], "three batches, each after the last id"
    assert not Document.objects.exclude(raw="").exists()


def test_the_sweep_starts_one_chain_per_tenant_and_job(eager_celery):
    make_tenant()
    make_tenant()
    assert retention_sweep.delay().get() == 2 * len(retention_jobs()) + len(unowned_retention_jobs()), \
        "and one per job of rows of no tenant"


def test_the_edi_flow_registers_the_cleo_file_ledger():
    """edi registers its file ledger's raw bytes from its AppConfig (the engine imports no flow);
    a file not yet taken in ("stored") is kept whatever its age."""
    from edi.models import InboundFile

    tenant = make_tenant()
    assert "purge:cleo-files" in retention_jobs()
    old = InboundFile.objects.create(tenant=tenant, folder="in", name="a.edi", cleo_file_id="A", content_hash="h", size=3,
                                     raw=b"ISA", status="imported", received_at=NOW - timedelta(days=400))
    kept = InboundFile.objects.create(tenant=tenant, folder="in", name="b.edi", cleo_file_id="B", content_hash="h2", size=3,
                                      raw=b"ISA", status="malformed", received_at=NOW - timedelta(days=100))
    waiting = InboundFile.objects.create(tenant=tenant, folder="in", name="c.edi", cleo_file_id="C", content_hash="h3", size=3,
                                         raw=b"ISA", status="stored", received_at=NOW - timedelta(days=900))
    assert retention_step(tenant_id=tenant.pk, job="purge:cleo-files", now=NOW).cleared == 1
    for entry in (old, kept, waiting):
        entry.refresh_from_db()
    assert bytes(old.raw) == b"" and bytes(kept.raw) == b"ISA" and bytes(waiting.raw) == b"ISA"


def test_billing_registers_the_webhook_ledger_bodies():
    """Accepted deliveries' bodies age as finished, refused ones as failures (kept longer to
    say why), and one still being handled is kept."""
    from billing.models import WebhookDelivery

    tenant = make_tenant()
    assert "purge:stripe-webhook-bodies" in retention_jobs()
    made = {outcome: WebhookDelivery.objects.create(tenant=tenant, path="/stripe/webhooks/x/", method="POST",
                                                    body=b"{}", size=2, outcome=outcome,
                                                    received_at=NOW - timedelta(days=100))
            for outcome in ("accepted", "signature_mismatch", "received")}
    assert retention_step(tenant_id=tenant.pk, job="purge:stripe-webhook-bodies", now=NOW).cleared == 1
    bodies = {outcome: bytes(WebhookDelivery.objects.get(pk=row.pk).body) for outcome, row in made.items()}
    assert bodies == {"accepted": b"", "signature_mismatch": b"{}", "received": b"{}"}


def test_an_unknown_job_is_named():
    with pytest.raises(ValueError, match="unknown retention job 'purge-everything'"):
        retention_step(tenant_id=1, job="purge-everything", now=NOW)
