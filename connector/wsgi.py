"""WSGI entry point for gunicorn. Refuses to start when a required secret is missing.

The Stripe webhook URL is served with a short middleware list (connector/handlers.py)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")

application = get_wsgi_application()

from connector.handlers import lean_application  # noqa: E402 - Django is set up by the line above

application = lean_application(application)

from connector.checks import refuse_start_without_secrets  # noqa: E402

refuse_start_without_secrets()
