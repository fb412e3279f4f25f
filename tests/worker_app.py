"""Celery app for the real-worker test: the project's app plus the echo flow."""
from connector.celery import app  # noqa: F401

import tests.echo_flow  # noqa: F401,E402  (registers the flow)
