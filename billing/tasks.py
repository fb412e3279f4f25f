"""Celery tasks: thin entry points that call billing's services."""
from __future__ import annotations

from celery import shared_task

from .webhooks.handoff import webhook_events_drain, webhook_events_queue_unqueued


@shared_task(name="billing.queue_unqueued_webhook_events", ignore_result=True)
def queue_unqueued_webhook_events() -> dict[str, int]:
    """The sweeper: queue the processing of events a broker outage left unqueued."""
    return webhook_events_queue_unqueued()


@shared_task(name="billing.drain_webhook_events", ignore_result=True)
def drain_webhook_events() -> dict[str, int]:
    """Nudged by the webhook view: make the documents of new events and queue their processing."""
    return webhook_events_drain()
