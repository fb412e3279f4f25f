"""Celery app for the console's real-worker test: the project's app, the echo flow, and a
stand-in for the engine's `connector.process_document` until the engine branch provides it.

The stand-in is registered before the project's tasks are discovered, so the engine's own
task, once it exists, replaces it under the same name."""
import os

import tests.echo_flow  # noqa: F401  (registers the flow)
from connector.celery import app

# Callbacks a worker sends (the console's replay progress) go to the test's own queue.
app.conf.task_default_queue = os.environ.get("TEST_QUEUE", "celery")


@app.task(name="connector.process_document", ignore_result=True)
def process_document(document_id: int, trigger: str, user_id: int | None = None) -> str:
    from django.contrib.auth import get_user_model

    from connector.models import Document
    from connector.replay import ReplayRefused, document_replay

    document = Document.objects.select_related("tenant").get(pk=document_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        document_replay(document, user=user, trigger=trigger)
    except ReplayRefused:
        pass
    return document.state
