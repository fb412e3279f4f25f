"""ml-connector: the Django project and the sync engine every flow shares."""
from .celery import app as celery_app

__all__ = ("celery_app",)
