"""Celery tasks: thin entry points that call the engine's services."""
from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from tenants.models import Tenant

from .locks import lock_ttl
from .models import Document, Trigger
from .replay import ReplayRefused, document_replay, documents_retry_due
from .schedules import schedule_skip_record, schedule_wanted, schedules_ensure_for_tenant
from .sync import sync_run_execute, sync_run_unfinished

# How many times a redelivered cycle retries (each after one lock lifetime) before giving up.
REDELIVERY_RETRIES = 10


@shared_task(bind=True, name="connector.run_flow", ignore_result=True, max_retries=REDELIVERY_RETRIES)
def run_flow(self, tenant_id: int, flow: str, trigger: str = Trigger.SCHEDULED, user_id: int | None = None) -> int | None:
    """One cycle of `flow` for the tenant; returns the run's id. `user_id`: who pressed
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


@shared_task(name="connector.retry_due_documents", ignore_result=True)
def retry_due_documents() -> int:
    return documents_retry_due()


@shared_task(name="connector.replay_documents", ignore_result=True)
def replay_documents(document_ids: list[int], user_id: int | None) -> dict[str, int]:
    """The background half of "replay failures since …": one document at a time."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    done = refused = 0
    for document in Document.objects.filter(pk__in=document_ids).select_related("tenant"):
        try:
            document_replay(document, user=user)
            done += 1
        except ReplayRefused:
            refused += 1
    return {"replayed": done, "refused": refused}
