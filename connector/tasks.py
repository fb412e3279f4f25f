"""Celery tasks: thin entry points that call the engine's services."""
from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from tenants.models import Tenant

from .models import Document, Trigger
from .replay import ReplayRefused, document_replay, documents_retry_due
from .sync import sync_run_execute


@shared_task(name="connector.run_flow", ignore_result=True)
def run_flow(tenant_id: int, flow: str, trigger: str = Trigger.SCHEDULED) -> int | None:
    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    if tenant is None:
        return None
    return sync_run_execute(tenant=tenant, flow_name=flow, trigger=trigger).pk


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
