"""Triage, alerts and retention in the admin: tenant-scoped, a reason to ignore, replay as a
job page, the webhook URL write-only, and the periodic tasks in django-celery-beat."""
import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from connector.models import DocumentState
from console.models import AlertSettings, FailureGroup, GroupReplay, RetentionPolicy
from console.schedules import CONSOLE_SCHEDULES, console_schedules_ensure
from console.triage import triage_pass
from tenants.models import Role
from tests.factories import make_tenant, make_user

from .conftest import failed_document, waiting_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def triaged(echo_flow):
    alpha, beta = make_tenant("Alpha LLP", slug="alpha"), make_tenant("Beta", slug="beta")
    for key in ("INV-1002", "INV-1003"):
        failed_document(alpha, key, echo_flow, "data")
    failed_document(beta, "B-1", echo_flow, "data")
    triage_pass()
    return alpha, beta, alpha.failure_groups.get(), beta.failure_groups.get()


def test_support_sees_their_groups_only_and_another_tenants_group_is_a_404(client, triaged):
    alpha, _, group, other = triaged
    client.force_login(make_user(tenant=alpha, role=Role.SUPPORT))
    listing = client.get(reverse("admin:console_failuregroup_changelist")).content.decode()
    assert "echo: BIG02 is missing" in listing and "Beta" not in listing
    page = client.get(reverse("admin:console_failuregroup_change", args=[group.pk])).content.decode()
    assert "INV-1002" in page and "INV-1003" in page and "Replay all in this group" in page
    for name in ("console_failuregroup_change", "console_failuregroup_replay", "console_failuregroup_ignore",
                 "console_failuregroup_unignore"):
        assert client.get(reverse(f"admin:{name}", args=[other.pk])).status_code == 404, name
        assert client.post(reverse(f"admin:{name}", args=[other.pk])).status_code in (403, 404), name


def test_replay_all_asks_first_then_queues_and_shows_progress(client, triaged, django_capture_on_commit_callbacks,
                                                             monkeypatch):
    alpha, _, group, _ = triaged
    sent = []
    monkeypatch.setattr("console.replays.process_document_send", lambda item, user_id: sent.append(item.document_id))
    client.force_login(make_user(tenant=alpha, role=Role.SUPPORT))
    url = reverse("admin:console_failuregroup_replay", args=[group.pk])
    confirm = client.get(url).content.decode()
    assert "Yes, replay 2 documents" in confirm and sent == []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    replay = GroupReplay.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("admin:console_groupreplay_change",
                                                                             args=[replay.pk])
    assert len(sent) == 2
    page = client.get(response["Location"]).content.decode()
    assert "0 of 2 finished" in page and 'http-equiv="refresh"' in page


def test_ignore_requires_a_reason_and_un_ignore_brings_them_back(client, triaged):
    alpha, _, group, _ = triaged
    user = make_user(tenant=alpha, role=Role.FINANCE_ADMIN)
    client.force_login(user)
    url = reverse("admin:console_failuregroup_ignore", args=[group.pk])
    assert "This field is required" in client.post(url, {"reason": "  "}).content.decode()
    assert not alpha.documents.filter(state=DocumentState.IGNORED).exists()
    response = client.post(url, {"reason": "the partner withdrew these invoices"})
    assert response.status_code == 302
    assert alpha.documents.filter(state=DocumentState.IGNORED).count() == 2
    group.refresh_from_db()
    assert group.ignored_count == 2
    client.post(reverse("admin:console_failuregroup_unignore", args=[group.pk]), {"reason": ""})
    assert alpha.documents.filter(state=DocumentState.FAILED).count() == 2


def test_from_a_saved_mapping_to_the_documents_waiting_on_it(client):
    tenant = make_tenant()
    waiting_document(tenant, "F1", [("vendor", "ZZ:ACME01")])
    triage_pass()
    group = FailureGroup.objects.get(missing_value="ZZ:ACME01")
    client.force_login(make_user(tenant=tenant))
    response = client.get(reverse("admin:console_failuregroup_waiting_on"),
                          {"tenant": tenant.pk, "kind": "vendor", "value": "zz:acme01"})
    assert response["Location"] == reverse("admin:console_failuregroup_change", args=[group.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Replay every document waiting on it" in page


def test_the_webhook_url_is_write_only_and_recipients_are_checked(client):
    tenant = make_tenant(slug="alpha")
    client.force_login(make_user(tenant=tenant, role=Role.FINANCE_ADMIN))
    add = reverse("admin:console_alertsettings_add")
    bad = client.post(add, {"tenant": tenant.pk, "enabled": "on", "email_recipients": "ops@alpha.test\nnot-an-address",
                            "webhook_url": "", "growth_threshold": 10, "throttle_minutes": 60,
                            "max_notices_per_hour": 20, "silence_rules-TOTAL_FORMS": 0,
                            "silence_rules-INITIAL_FORMS": 0})
    assert "Not an email address: not-an-address" in bad.content.decode()
    secret_url = "https://hooks.chat.test/services/T00/B00/SECRETpathTOKEN"
    response = client.post(add, {"tenant": tenant.pk, "enabled": "on", "email_recipients": "ops@alpha.test",
                                 "webhook_url": secret_url, "growth_threshold": 10, "throttle_minutes": 60,
                                 "max_notices_per_hour": 20, "silence_rules-TOTAL_FORMS": 1,
                                 "silence_rules-INITIAL_FORMS": 0, "silence_rules-0-flow": "echo",
                                 "silence_rules-0-minutes_without_success": 30})
    assert response.status_code == 302, response.content.decode()[:3000]
    settings = AlertSettings.objects.get(tenant=tenant)
    assert settings.webhook_url == secret_url and settings.silence_rules.get().minutes_without_success == 30
    page = client.get(reverse("admin:console_alertsettings_change", args=[settings.pk])).content.decode()
    assert "SECRETpathTOKEN" not in page and "stored — leave empty to keep" in page


def test_support_may_read_alert_settings_but_not_change_them(client):
    tenant = make_tenant()
    settings = AlertSettings.objects.create(tenant=tenant, email_recipients="ops@x.test")
    client.force_login(make_user(tenant=tenant, role=Role.SUPPORT))
    url = reverse("admin:console_alertsettings_change", args=[settings.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"email_recipients": "attacker@x.test"})
    settings.refresh_from_db()
    assert settings.email_recipients == "ops@x.test"


def test_failures_are_kept_at_least_as_long_as_finished_documents(client):
    tenant = make_tenant()
    client.force_login(make_user(tenant=tenant, role=Role.FINANCE_ADMIN))
    response = client.post(reverse("admin:console_retentionpolicy_add"), {
        "tenant": tenant.pk, "finished_payload_days": 90, "failed_payload_days": 30, "attempt_days": 365,
        "sync_run_days": 90})
    assert "Failures are kept at least as long as finished documents." in response.content.decode()
    assert not RetentionPolicy.objects.exists()


def test_the_console_tasks_are_in_beat_and_an_edited_one_is_left_alone():
    names = {spec["name"] for spec in CONSOLE_SCHEDULES}
    assert set(PeriodicTask.objects.filter(name__in=names).values_list("task", flat=True)) == {
        "console.beat_heartbeat", "console.triage", "console.retention_sweep"}, "created by migrate"
    PeriodicTask.objects.filter(task="console.triage").update(enabled=False)
    console_schedules_ensure()
    assert PeriodicTask.objects.get(task="console.triage").enabled is False
    assert PeriodicTask.objects.filter(name__in=names).count() == 3
