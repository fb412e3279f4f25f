"""Celery app for the real-worker tests: the project's app plus the test flows."""
import tests.echo_flow  # noqa: F401,E402  (registers the echo flow)
import tests.ledger_flow  # noqa: F401,E402  (registers the ledger-copy flow)
from connector.celery import app  # noqa: F401
