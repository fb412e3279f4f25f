"""The Celery app, configured from Django settings (CELERY_* names)."""
import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")

app = Celery("connector")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_start_without_secrets(**kwargs) -> None:
    """Workers and beat fail at start, like gunicorn, when a required secret is missing."""
    from connector.checks import refuse_start_without_secrets

    refuse_start_without_secrets()


@worker_init.connect
def _prewarm_before_the_pool_forks(**kwargs) -> None:
    from connector.http import http_prewarm

    http_prewarm()
