"""Celery tasks: thin entry points that call the engine's services.

- connector.run_flow: one cycle of one flow for one tenant (beat, per tenant and flow);
- connector.process_document: one document, under its lock (queued by cycles, by the retry
  schedule, by the admin's replays, and by other packages by name);
- connector.retry_due_documents: queue the documents whose retry is due (beat, every minute).
"""
from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from tenants.models import Tenant

from .locks import lock_ttl
from .logs import bound
from .models import Trigger
from .replay import documents_retry_due
from .schedules import schedule_skip_record, schedule_wanted, schedules_ensure_for_tenant
from .sync import sync_run_execute, sync_run_unfinished
from .work import BUSY, QUEUE_GRACE, document_work

# How many times a redelivered cycle retries (each after one lock lifetime) before giving up.
REDELIVERY_RETRIES = 10
# A human's replay that finds its document busy waits for the holder rather than vanishing.
BUSY_RETRY_SECONDS = 15
BUSY_MAX_RETRIES = 40


@shared_task(bind=True, name="connector.run_flow", ignore_result=True, max_retries=REDELIVERY_RETRIES)
def run_flow(self, tenant_id: int, flow: str, trigger: str = Trigger.SCHEDULED, user_id: int | None = None) -> int | None:
    """One cycle of `flow` for the tenant; returns the run's id (a quiet cycle's run is gone by
    then: its schedule counted it, connector.sync). `user_id`: who pressed
    "run now" (a manual trigger), recorded on the run and its attempts.

    When another run holds the lock, a scheduled tick skips (counted on its schedule, no run
    written). A task redelivered after its worker died may find its own dead self holding the
    lock: it retries once the lock can have expired, until it runs or another cycle has found
    its run abandoned (and so is doing its work). A tick for a tenant or connection turned off
    pauses the schedule instead of running.
    """
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    if trigger == Trigger.SCHEDULED and not schedule_wanted(tenant=tenant, flow_name=flow):
        schedules_ensure_for_tenant(tenant)
        return None
    if not tenant.active:
        return None
    task_id = self.request.id or ""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    run = sync_run_execute(tenant=tenant, flow_name=flow, trigger=trigger, user=user, task_id=task_id)
    if run is not None:
        return run.pk
    redelivered = bool((self.request.delivery_info or {}).get("redelivered")) and not self.request.retries
    if sync_run_unfinished(task_id=task_id) is not None or redelivered:
        raise self.retry(countdown=lock_ttl())
    if trigger == Trigger.SCHEDULED:
        schedule_skip_record(tenant=tenant, flow_name=flow)
    return None


@shared_task(name="connector.process_document", bind=True, ignore_result=True, max_retries=BUSY_MAX_RETRIES)
def process_document(self, document_id: int, trigger: str = Trigger.SCHEDULED, user_id: int | None = None) -> str:
    """Returns the document's state after, "busy" or "nothing" (see connector.work)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with bound(document_id=document_id, trigger=trigger):
        outcome = document_work(document_id=document_id, trigger=trigger, user=user)
    if outcome == BUSY:
        if trigger in (Trigger.MANUAL, Trigger.RETRY):
            raise self.retry(countdown=BUSY_RETRY_SECONDS)
        if (self.request.delivery_info or {}).get("redelivered") and not self.request.retries:
            # Redelivered after its worker died: the lock it finds is likely its dead self's,
            # which frees within one lifetime; do the work then rather than wait for a cycle.
            raise self.retry(countdown=lock_ttl())
    return outcome


@shared_task(name="connector.retry_due_documents", ignore_result=True)
def retry_due_documents() -> int:
    return documents_retry_due(queue=True, queued_before=timezone.now() - QUEUE_GRACE)
