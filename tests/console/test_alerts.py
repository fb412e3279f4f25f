"""Alerts on a simulated clock: a new failure group, a group past the threshold, a silent
flow; once per condition, throttled, with a resolved notice; every notice listed."""
import json
from datetime import timedelta

import httpx
import pytest
from django.core import mail

from connector.http import mount_transport, unmount_transport
from connector.models import SyncRun, SyncRunStatus
from connector.replay import document_replay
from console.alerts import alerts_evaluate
from console.models import Alert, AlertDelivery, AlertKind, AlertSettings, AlertStatus, SilenceRule
from console.triage import triage_pass
from tests.factories import make_tenant

from .conftest import failed_document

pytestmark = pytest.mark.django_db
HOOK_BASE = "https://hooks.chat.test"
HOOK_URL = f"{HOOK_BASE}/services/T00/B00/SECRETpathTOKEN"


def alerting_tenant(**settings):
    tenant = make_tenant("Alpha LLP", time_zone="America/New_York")
    alert_settings = AlertSettings.objects.create(tenant=tenant, email_recipients="ops@alpha.test\nfin@alpha.test",
                                                  **settings)
    return tenant, alert_settings


def test_a_new_failure_group_sends_one_email_and_a_resolved_notice(echo_flow, clock):
    tenant, _ = alerting_tenant()
    document = failed_document(tenant, "INV-1002", echo_flow, "data")
    triage_pass(now=clock.now)
    report = alerts_evaluate(now=clock.now)
    assert (report.opened, report.sent) == (1, 1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@alpha.test", "fin@alpha.test"]
    assert message.subject == "[ml-connector] Alpha LLP: new problem in echo: echo: BIG02 is missing"
    assert "1 document(s) of echo at step 'send'" in message.body
    assert "2026-06-01 08:00 EDT" in message.body, "times in the tenant's zone, zone shown"

    clock.advance(minutes=1)
    failed_document(tenant, "INV-1003", echo_flow, "data")  # same problem: no second alert
    triage_pass(now=clock.now)
    assert alerts_evaluate(now=clock.now).opened == 0 and len(mail.outbox) == 1

    clock.advance(minutes=5)
    for doc in tenant.documents.all():
        document_replay(doc, user=None)
    triage_pass(now=clock.now)
    report = alerts_evaluate(now=clock.now)
    assert report.resolved == 1 and len(mail.outbox) == 2
    assert mail.outbox[1].subject.startswith("[ml-connector] Resolved: Alpha LLP: new problem in echo")
    alert = Alert.objects.get()
    assert (alert.status, alert.kind, alert.notified) == (AlertStatus.RESOLVED, AlertKind.NEW_GROUP, True)
    assert list(alert.deliveries.values_list("notice", "channel", "ok")) == [("resolved", "email", True),
                                                                            ("opened", "email", True)]
    assert document.pk


def test_a_group_growing_past_the_threshold_alerts_once(echo_flow, clock):
    tenant, _ = alerting_tenant(growth_threshold=3)
    for i in range(2):
        failed_document(tenant, f"A{i}", echo_flow)
    triage_pass(now=clock.now)
    alerts_evaluate(now=clock.now)
    assert [a.kind for a in Alert.objects.all()] == [AlertKind.NEW_GROUP]
    clock.advance(minutes=2)
    failed_document(tenant, "A2", echo_flow)
    triage_pass(now=clock.now)
    alerts_evaluate(now=clock.now)
    grew = Alert.objects.get(kind=AlertKind.GROUP_GREW)
    assert grew.title == "Alpha LLP: 3 documents echo: BIG02 is missing" and grew.notified
    clock.advance(minutes=2)
    failed_document(tenant, "A3", echo_flow)
    triage_pass(now=clock.now)
    alerts_evaluate(now=clock.now)
    assert Alert.objects.filter(kind=AlertKind.GROUP_GREW).count() == 1 and len(mail.outbox) == 2


def test_a_flow_with_no_successful_cycle_for_too_long_alerts_and_resolves(clock):
    tenant, alert_settings = alerting_tenant()
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", minutes_without_success=30,
                               created_at=clock.now)
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=SyncRunStatus.SUCCEEDED,
                           started_at=clock.now, finished_at=clock.now)
    clock.advance(minutes=29)
    assert alerts_evaluate(now=clock.now).opened == 0
    clock.advance(minutes=2)
    alerts_evaluate(now=clock.now)
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.NO_SUCCESS
    assert alert.title == "Alpha LLP: Echo (tests) has had no successful cycle for 30 minutes"
    assert "Last successful cycle: 2026-06-01 08:00 EDT" in mail.outbox[0].body
    clock.advance(minutes=1)
    SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=SyncRunStatus.SUCCEEDED,
                           started_at=clock.now, finished_at=clock.now)
    alerts_evaluate(now=clock.now)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and mail.outbox[-1].subject.startswith("[ml-connector] Resolved:")


def test_a_flow_with_no_documents_for_too_long_alerts(echo_flow, clock):
    tenant, alert_settings = alerting_tenant()
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", hours_without_documents=6,
                               created_at=clock.now - timedelta(days=1))
    from connector.models import Document

    Document.objects.create(tenant=tenant, flow="echo", external_key="OLD", created_at=clock.now - timedelta(hours=5))
    assert alerts_evaluate(now=clock.now).opened == 0
    clock.advance(hours=2)
    alerts_evaluate(now=clock.now)
    assert Alert.objects.get().title == "Alpha LLP: no Echo (tests) document for 6 hour(s)"


def test_a_new_rule_does_not_alert_before_its_window_has_passed(clock):
    _, alert_settings = alerting_tenant()
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", minutes_without_success=30,
                               hours_without_documents=1, created_at=clock.now)
    clock.advance(minutes=10)
    assert alerts_evaluate(now=clock.now).opened == 0


def test_a_flapping_condition_is_throttled(clock):
    tenant, alert_settings = alerting_tenant(throttle_minutes=60)
    SilenceRule.objects.create(alert_settings=alert_settings, flow="echo", minutes_without_success=10,
                               created_at=clock.now)

    def success():
        SyncRun.objects.create(tenant=tenant, flow="echo", trigger="scheduled", status=SyncRunStatus.SUCCEEDED,
                               started_at=clock.now, finished_at=clock.now)

    clock.advance(minutes=11)
    alerts_evaluate(now=clock.now)          # fires, sent
    clock.advance(minutes=1)
    success()
    alerts_evaluate(now=clock.now)          # resolves, sent
    clock.advance(minutes=11)
    alerts_evaluate(now=clock.now)          # fires again 12 minutes later: throttled
    assert len(mail.outbox) == 2
    latest = Alert.objects.order_by("-id").first()
    assert latest.throttled and not latest.notified and latest.status == AlertStatus.FIRING
    clock.advance(minutes=1)
    success()
    alerts_evaluate(now=clock.now)
    assert len(mail.outbox) == 2, "a throttled alert sends no resolved notice either"
    clock.advance(minutes=80)
    alerts_evaluate(now=clock.now)          # past the window: sent again
    assert len(mail.outbox) == 3


def test_past_the_hourly_cap_alerts_are_listed_but_not_sent(echo_flow, clock):
    tenant, _ = alerting_tenant(max_notices_per_hour=2)
    for failure in ("data", "config", "bug"):
        failed_document(tenant, failure, echo_flow, failure)
    triage_pass(now=clock.now)
    report = alerts_evaluate(now=clock.now)
    assert (report.opened, report.sent, report.throttled) == (3, 2, 1)
    assert len(mail.outbox) == 2 and Alert.objects.filter(throttled=True).count() == 1


def test_the_webhook_gets_json_a_chat_tool_takes_and_its_secret_path_is_never_recorded(echo_flow, clock):
    posts = []

    def chat(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        posts.append((environ["PATH_INFO"], json.loads(environ["wsgi.input"].read(length))))
        status = "500 Internal Server Error" if len(posts) == 2 else "200 OK"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    mount_transport(HOOK_BASE, httpx.WSGITransport(app=chat))
    try:
        tenant, _ = alerting_tenant(webhook_url=HOOK_URL)
        failed_document(tenant, "A", echo_flow, "data")
        failed_document(tenant, "B", echo_flow, "config")
        triage_pass(now=clock.now)
        alerts_evaluate(now=clock.now)
    finally:
        unmount_transport(HOOK_BASE)
    assert posts[0][0] == "/services/T00/B00/SECRETpathTOKEN"
    payload = posts[0][1]
    assert payload["text"].startswith("[ml-connector] Alpha LLP: new problem in echo")
    assert payload["alert"]["notice"] == "opened" and payload["alert"]["tenant"] == tenant.slug
    webhook = AlertDelivery.objects.filter(channel="webhook").order_by("id")
    assert [d.ok for d in webhook] == [True, False]
    assert all(d.recipients == "hooks.chat.test" for d in webhook)
    assert "SECRETpathTOKEN" not in " ".join(f"{d.recipients} {d.error}" for d in webhook)
    assert "answered 500" in webhook[1].error or "could not take" in webhook[1].error
    assert AlertDelivery.objects.filter(channel="email", ok=True).count() == 2, "email still went"


def test_alerts_off_or_transient_groups_send_nothing_new(echo_flow, clock):
    tenant, alert_settings = alerting_tenant()
    failed_document(tenant, "A", echo_flow, "transient")  # retrying on its own
    triage_pass(now=clock.now)
    alerts_evaluate(now=clock.now)
    assert not Alert.objects.exists(), "a transient group alerts only when it grows past the threshold"
    other = make_tenant()
    AlertSettings.objects.create(tenant=other, enabled=False, email_recipients="x@y.test")
    failed_document(other, "B", echo_flow, "data")
    triage_pass(now=clock.now)
    alerts_evaluate(now=clock.now)
    assert not Alert.objects.exists() and mail.outbox == []
