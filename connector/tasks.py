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

from .models import Trigger
from .replay import documents_retry_due
from .sync import sync_run_execute
from .work import BUSY, QUEUE_GRACE, document_work

# A human's replay that finds its document busy waits for the holder rather than vanishing.
BUSY_RETRY_SECONDS = 15
BUSY_MAX_RETRIES = 40


@shared_task(name="connector.run_flow", ignore_result=True)
def run_flow(tenant_id: int, flow: str, trigger: str = Trigger.SCHEDULED) -> int | None:
    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    if tenant is None:
        return None
    return sync_run_execute(tenant=tenant, flow_name=flow, trigger=trigger).pk


@shared_task(name="connector.process_document", bind=True, ignore_result=True, max_retries=BUSY_MAX_RETRIES)
def process_document(self, document_id: int, trigger: str = Trigger.SCHEDULED, user_id: int | None = None) -> str:
    """Returns the document's state after, "busy" or "nothing" (see connector.work)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    outcome = document_work(document_id=document_id, trigger=trigger, user=user)
    if outcome == BUSY and trigger in (Trigger.MANUAL, Trigger.RETRY):
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome


@shared_task(name="connector.retry_due_documents", ignore_result=True)
def retry_due_documents() -> int:
    return documents_retry_due(queue=True, queued_before=timezone.now() - QUEUE_GRACE)
