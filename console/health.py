"""/health/ for load balancers (django-health-check): the database, the Celery broker, Redis
when configured, and beat seen recently.

Beat is seen through a heartbeat: beat sends `console.beat_heartbeat` every minute and the
worker that runs it writes the time. A stale heartbeat means beat is down, or no worker takes
its tasks; django-celery-beat's own last_run_at of the task tells which of the two.

No check's name or message carries a URL, a password or a host's credentials: the output is
public (no login), so it names what failed and nothing about how to reach it.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from .models import PassMark

HEARTBEAT_MARK = "beat-heartbeat"
HEARTBEAT_TASK = "console.beat_heartbeat"


def beat_heartbeat_record(*, now: datetime.datetime | None = None) -> None:
    PassMark.objects.update_or_create(name=HEARTBEAT_MARK, defaults={"at": now or timezone.now()})


def beat_problem(*, now: datetime.datetime | None = None) -> str | None:
    """What is wrong with beat, or None when its heartbeat is recent enough."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    max_age = datetime.timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS)
    seen = PassMark.objects.filter(name=HEARTBEAT_MARK).values_list("at", flat=True).first()
    if seen is not None and now - seen <= max_age:
        return None
    sent = PeriodicTask.objects.filter(task=HEARTBEAT_TASK).values_list("last_run_at", flat=True).first()
    if sent is not None and now - sent <= max_age:
        return f"beat sends the heartbeat but no worker has run it for {_ago(now, seen)}"
    return f"beat has not been seen for {_ago(now, seen)}"


def _ago(now: datetime.datetime, then: datetime.datetime | None) -> str:
    if then is None:
        return "ever (no heartbeat yet)"
    return f"{int((now - then).total_seconds())} s"


@dataclasses.dataclass
class BeatSeenRecently(HealthCheck):
    """Beat ticked, and a worker ran its heartbeat, within HEALTH_BEAT_MAX_AGE_SECONDS."""

    def run(self) -> None:
        try:
            problem = beat_problem()
        finally:
            # Checks run in an executor thread: its connection must not outlive the request.
            connections.close_all()
        if problem:
            raise ServiceUnavailable(problem)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker takes a connection (Redis in production, the embedded one in the demo)."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def run(self) -> None:
        from connector.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as exc:  # noqa: BLE001 - any failure to connect is "unavailable", named by type only
            raise ServiceUnavailable(f"cannot reach the broker ({type(exc).__name__})") from exc


def redis_client_factory() -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)


def health_checks() -> list[Any]:
    """What /health/ runs; Redis only when REDIS_URL is set."""
    checks: list[Any] = ["health_check.checks.Database", "console.health.Broker", "console.health.BeatSeenRecently"]
    if settings.REDIS_URL:
        checks.append(("health_check.contrib.redis.Redis", {"client_factory": redis_client_factory}))
    return checks
