"""Replay failures since a time: form, confirmation with the count, background job, admin log."""
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from connector.celery import app as celery_app
from connector.documents import document_receive
from connector.models import DocumentState, Trigger
from connector.pipeline import document_process
from tenants.models import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def failed_document(tenant, key, echo_flow):
    echo_flow.send_failures.append("config")
    document, _ = document_receive(tenant=tenant, flow="echo", external_key=key, raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    return document


def test_replay_failures_since_confirms_then_replays_only_the_users_tenants(client, echo_flow, eager_celery):
    mine, theirs = make_tenant(), make_tenant()
    mine_doc = failed_document(mine, "MINE-1", echo_flow)
    their_doc = failed_document(theirs, "THEIRS-1", echo_flow)
    user = make_user("sue", tenant=mine, role=Role.SUPPORT)
    client.force_login(user)
    url = reverse("admin:connector_document_actions", args=["replay_failures_since"])
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")

    assert client.get(url).status_code == 200
    confirmation = client.post(url, {"since": since, "flow": "echo"})
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert "MINE-1" in html and "THEIRS-1" not in html and "Yes, replay 1 document" in html
    assert echo_flow.sent == [], "nothing runs before the confirmation"

    done = client.post(url, {"since": since, "flow": "echo", "confirm": "yes"})
    assert done.status_code == 302
    mine_doc.refresh_from_db()
    their_doc.refresh_from_db()
    assert (mine_doc.state, their_doc.state) == (DocumentState.SENT, DocumentState.FAILED)
    assert LogEntry.objects.filter(user=user, object_id=str(mine_doc.pk)).exists()
    assert mine_doc.audit_events.filter(action="replay", user=user).exists()
