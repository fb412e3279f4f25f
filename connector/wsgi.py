"""WSGI entry point for gunicorn. Refuses to start when a required secret is missing."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")

application = get_wsgi_application()

from connector.checks import refuse_start_without_secrets  # noqa: E402

refuse_start_without_secrets()
