"""The console's periodic tasks, as django-celery-beat rows created in code after every
`migrate` (post_migrate), like connector/schedules.py does for the flows.

Why rows and not CELERY_BEAT_SCHEDULE: the project runs the database scheduler, which copies
CELERY_BEAT_SCHEDULE into these same rows at every beat start and so undoes a cadence a human
changed, and shows nothing in the admin until beat first starts. Rows created once (and only
when missing) appear in the admin at once, can be paused or re-timed there, and are never
overwritten.
"""
from __future__ import annotations

from typing import Any

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

CONSOLE_SCHEDULES: tuple[dict[str, Any], ...] = (
    {"name": "Console: beat heartbeat", "task": "console.beat_heartbeat", "every": 60,
     "description": "Proves beat and a worker are alive; /health/ reads it."},
    {"name": "Console: triage failures and send alerts", "task": "console.triage", "every": 60,
     "description": "Groups failures changed since the last pass, then opens and resolves alerts."},
    {"name": "Console: retention purge", "task": "console.retention_sweep", "crontab": {"minute": "17", "hour": "3"},
     "description": "Clears aged payloads and deletes old attempts and sync runs, in small batches."},
)


def console_schedules_ensure() -> list[PeriodicTask]:
    """Create each missing task; an existing one (perhaps edited) is left as it is."""
    tasks = []
    for spec in CONSOLE_SCHEDULES:
        task = PeriodicTask.objects.filter(name=spec["name"]).first()
        if task is None:
            schedule: dict[str, Any] = {}
            if "every" in spec:
                schedule["interval"], _ = IntervalSchedule.objects.get_or_create(every=spec["every"],
                                                                                 period=IntervalSchedule.SECONDS)
            else:
                schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    **spec["crontab"], day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
            task = PeriodicTask.objects.create(name=spec["name"], task=spec["task"], description=spec["description"],
                                               enabled=True, **schedule)
        tasks.append(task)
    return tasks


def console_schedules_on_migrate(sender: Any = None, **kwargs: Any) -> None:
    """post_migrate receiver: the tables exist once django_celery_beat is migrated."""
    from django.db import DEFAULT_DB_ALIAS

    if kwargs.get("using", DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS:
        return
    console_schedules_ensure()
