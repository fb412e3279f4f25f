"""Celery app for the kill tests: the project's app plus the stall flow."""
from tests.engine.stall_flow import stall_flow_register

stall_flow_register()

from connector.celery import app  # noqa: E402

# Billiard waits this long for a result before declaring a killed pool process lost (10 s by
# default); the test's lock lifetime is shorter than production's, so is this wait.
app.conf.worker_lost_wait = 1
