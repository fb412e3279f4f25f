"""Celery tasks: thin entry points that call billing's services."""
from __future__ import annotations

from celery import shared_task

from .webhooks.handoff import webhook_events_drain


@shared_task(name="billing.queue_unqueued_webhook_events", ignore_result=True)
def queue_unqueued_webhook_events() -> dict[str, int]:
    """The sweep trigger (beat, every minute): the outbox drain, plus what no send reached."""
    return webhook_events_drain(sweep=True)


@shared_task(name="billing.drain_webhook_events", ignore_result=True)
def drain_webhook_events() -> dict[str, int]:
    """The nudge trigger (the webhook view's process, after a commit): the outbox drain."""
    return webhook_events_drain()
