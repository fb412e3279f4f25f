"""Celery app for the real-worker test: the project's app plus the echo flow."""
import tests.echo_flow  # noqa: F401,E402  (registers the flow)
from connector.celery import app  # noqa: F401
