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


def test_replay_is_queued_and_the_page_shows_how_it_ended_never_a_success_for_a_failure(client, echo_flow):
    """The request only queues (nothing runs in it); the message says what was queued; the
    document's page says queued, then what became of it, failure included."""
    from django.contrib.messages import get_messages

    from connector.queue import queue_held
    from connector.work import document_work

    tenant = make_tenant()
    document = failed_document(tenant, "INV-9", echo_flow)
    sue = make_user("sue", tenant=tenant, role=Role.SUPPORT)
    client.force_login(sue)
    url = reverse("admin:connector_document_actions", args=[document.pk, "replay"])
    page_url = reverse("admin:connector_document_change", args=[document.pk])

    with queue_held() as queued:
        response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    [message] = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert message[0] == "info" and message[1].startswith("Queued a replay of 1 document (INV-9)")
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED and [w.document_id for w in queued] == [document.pk]
    assert "Replay queued by sue at" in client.get(page_url).content.decode()

    echo_flow.send_failures.append("data")  # the replay fails again
    (work,) = queued
    assert (work.trigger, work.user_id) == ("manual", sue.pk)
    document_work(document_id=work.document_id, trigger=work.trigger, user=sue)
    html = client.get(page_url).content.decode()
    assert "Replayed by sue at" in html and "did not go through and is now failed: echo: BIG02 is missing" in html
    assert 'class="success"' not in html, "never a success message for a replay that failed"
