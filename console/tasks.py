"""Celery tasks: thin entry points that call the console's services."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from connector.locks import exclusive
from connector.logs import bound, get_logger
from tenants.models import Tenant

from .alerts import alerts_evaluate
from .daily import daily_counts_refresh
from .health import beat_heartbeat_record
from .replays import TRIAGE_LOCK, replay_item_finish
from .retention import retention_jobs, retention_step, unowned_retention_jobs
from .triage import triage_pass

log = get_logger(__name__)


@shared_task(name="console.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    beat_heartbeat_record()


@shared_task(name="console.triage", ignore_result=True)
def triage() -> dict[str, int]:
    """Group what changed, alert on what the groups (and the flows' silences) say, then count
    the days of the documents that changed for the overview's charts."""
    with exclusive(TRIAGE_LOCK) as acquired:
        if not acquired:
            return {"skipped": 1}
        grouped = triage_pass()
        alerted = alerts_evaluate()
        daily_counts_refresh()  # the overview's charts
    log.info("triage pass", documents=grouped.documents, joined=grouped.joined, left=grouped.left,
             alerts_opened=alerted.opened, alerts_resolved=alerted.resolved, notices_sent=alerted.sent)
    return {"documents": grouped.documents, "alerts_opened": alerted.opened, "alerts_resolved": alerted.resolved}


@shared_task(name="console.replay_item_finished", ignore_result=True)
def replay_item_finished(item_id: int) -> bool:
    """Linked to each document's task of a group replay, on success and on error."""
    return replay_item_finish(item_id=item_id)


@shared_task(name="console.retention_sweep", ignore_result=True)
def retention_sweep() -> int:
    """Start one self-requeuing chain per (tenant, job), and one per job of rows of no tenant."""
    started = 0
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        for job in retention_jobs():
            retention_purge.delay(tenant_id=tenant_id, job=job, after_id=0)
            started += 1
    for job in unowned_retention_jobs():
        retention_purge.delay(tenant_id=None, job=job, after_id=0)
        started += 1
    return started


@shared_task(name="console.retention_purge", ignore_result=True)
def retention_purge(tenant_id: int | None, job: str, after_id: int = 0) -> int:
    """One batch; a full batch queues the next one after the last id it handled."""
    with bound(tenant_id=tenant_id, retention_job=job):
        result = retention_step(tenant_id=tenant_id, job=job, now=timezone.now(), after_id=after_id)
        if result.cleared:
            log.info("retention batch", cleared=result.cleared, last_id=result.last_id)
        if result.more:
            retention_purge.delay(tenant_id=tenant_id, job=job, after_id=result.last_id)
    return result.cleared
