"""Celery app for the real-worker tests: the project's app plus the test flows."""
import tests.echo_flow  # noqa: F401,E402  (registers the echo flow)
from connector.celery import app  # noqa: F401,E402
from tests.ledger_flow import ledger_flow_register

ledger_flow_register()
