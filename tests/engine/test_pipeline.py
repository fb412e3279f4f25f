"""Documents through the engine: dedupe, steps, failure kinds, retry, replay, audit."""
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from connector.documents import document_receive
from connector.models import Attempt, AuditEvent, Document, DocumentState, Trigger
from connector.pipeline import document_process
from connector.replay import ReplayRefused, document_replay, documents_retry_due
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


def test_a_second_document_with_the_same_key_is_refused_by_the_database():
    tenant = make_tenant()
    Document.objects.create(tenant=tenant, flow="echo", external_key="INV-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.create(tenant=tenant, flow="echo", external_key="INV-1")
    # Same key in another flow or another tenant is a different document.
    Document.objects.create(tenant=tenant, flow="other", external_key="INV-1")
    Document.objects.create(tenant=make_tenant(), flow="echo", external_key="INV-1")
    assert Document.objects.filter(external_key="INV-1").count() == 3


def test_receive_returns_the_existing_document_instead_of_a_second(echo_flow):
    tenant = make_tenant()
    first, created = document_receive(tenant=tenant, flow="echo", external_key="K", raw="x")
    again, created_again = document_receive(tenant=tenant, flow="echo", external_key="K", raw="y")
    assert created and not created_again
    assert again.pk == first.pk and again.raw == "x"


def test_a_clean_run_goes_through_every_step_with_an_attempt_and_audit_each(echo_flow):
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K1", raw="hello")
    document_process(document, trigger=Trigger.SCHEDULED)
    document.refresh_from_db()
    assert document.state == DocumentState.SENT
    assert document.step == ""
    assert document.mapped == {"echo": "hello"}
    assert document.external_ids == {"echo_id": "E-K1"}
    assert list(document.attempts.order_by("id").values_list("step", "succeeded")) == [
        ("map", True), ("send", True), ("confirm", True)]
    transitions = list(AuditEvent.objects.filter(document=document).order_by("id").values_list("from_state", "to_state"))
    assert transitions == [("", "received"), ("received", "mapped"), ("mapped", "sent")]
    assert set(AuditEvent.objects.filter(document=document).values_list("actor", flat=True)) == {"system"}


@pytest.mark.parametrize(("failure", "state", "kind"), [
    ("config", DocumentState.FAILED, "config"),
    ("mapping", DocumentState.NEEDS_MAPPING, "config"),
    ("data", DocumentState.FAILED, "data"),
    ("bug", DocumentState.FAILED, "bug"),
])
def test_failure_kinds_park_the_document_at_the_failed_step(echo_flow, failure, state, kind):
    echo_flow.send_failures.append(failure)
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    document.refresh_from_db()
    assert (document.state, document.step, document.failure_kind) == (state, "send", kind)
    assert document.raw == "r", "the raw input is kept"
    failed = document.attempts.get(succeeded=False)
    assert failed.failure_kind == kind
    assert bool(failed.traceback) is (kind == "bug")
    assert document.next_attempt_at is None


def test_a_transient_failure_schedules_a_retry_honouring_retry_after(echo_flow):
    echo_flow.send_failures.append("transient")
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    before = timezone.now()
    document_process(document, trigger=Trigger.SCHEDULED)
    document.refresh_from_db()
    assert document.state == DocumentState.RETRYING
    assert document.retry_count == 1
    # First delay is one minute (±10% jitter); Retry-After of 2 s asks for less, so the schedule wins.
    assert timedelta(seconds=50) <= document.next_attempt_at - before <= timedelta(seconds=70)
    assert "503" in document.last_error


def test_due_retries_resume_at_the_failed_step_and_finish(echo_flow):
    echo_flow.send_failures.append("transient")
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    assert documents_retry_due() == 0, "not due yet"
    assert documents_retry_due(now=timezone.now() + timedelta(minutes=2)) == 1
    document.refresh_from_db()
    assert document.state == DocumentState.SENT
    assert echo_flow.sent == ["K"]
    steps = list(Attempt.objects.filter(document=document).order_by("id").values_list("step", "trigger", "succeeded"))
    assert steps == [("map", "scheduled", True), ("send", "scheduled", False), ("send", "retry", True),
                     ("confirm", "retry", True)], "resumed at send; map did not run again"


def test_replay_resumes_at_the_failed_step_and_names_the_user(echo_flow):
    echo_flow.send_failures.append("config")
    user = make_user("support-sam")
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    map_attempts = document.attempts.filter(step="map").count()

    document_replay(document, user=user)
    document.refresh_from_db()
    assert document.state == DocumentState.SENT
    assert document.attempts.filter(step="map").count() == map_attempts, "map was not run again"
    manual = document.attempts.filter(trigger=Trigger.MANUAL).order_by("id")
    assert [(a.step, a.user_id) for a in manual] == [("send", user.pk), ("confirm", user.pk)]
    replay_event = AuditEvent.objects.get(document=document, action="replay")
    assert replay_event.actor == "support-sam" and replay_event.user == user
    assert "send" in replay_event.reason
    assert AuditEvent.objects.filter(document=document, to_state="sent", actor="support-sam").exists()


def test_replaying_a_finished_document_does_nothing(echo_flow):
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    with pytest.raises(ReplayRefused, match="nothing to resume"):
        document_replay(document, user=make_user())
    assert echo_flow.sent == ["K"]


def test_the_schedule_gives_up_after_about_a_day(echo_flow):
    from connector.retry import RETRY_SCHEDULE, total_retry_window

    assert timedelta(hours=20) <= total_retry_window() <= timedelta(hours=30)
    echo_flow.send_failures.extend(["transient"] * (len(RETRY_SCHEDULE) + 1))
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="K", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    for _ in RETRY_SCHEDULE:
        documents_retry_due(now=timezone.now() + timedelta(days=2))
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED
    assert "gave up" in AuditEvent.objects.filter(document=document).order_by("-id").first().reason
