"""The webhook admin: endpoints with the URL to paste into Stripe and write-only secrets, Roll
secret, the delivery ledger with Replay processing; tenant-scoped; never a secret on a page."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from billing.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from connector.models import AuditEvent
from tenants.models import Role
from tests.factories import make_tenant, make_user

from .conftest import OTHER_SECRET, SECRET, deliver, signed_event

pytestmark = pytest.mark.django_db
NEW_SECRET = "whsec_Rolled5ECRETvalue555555555555"


def assert_no_secret(html: str, where: str) -> None:
    for secret in (SECRET, OTHER_SECRET, NEW_SECRET):
        assert secret not in html, f"a secret leaked on {where}"
        assert secret[6:] not in html, f"part of a secret leaked on {where}"


def get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    assert_no_secret(html, url)
    return html


def test_a_finance_admin_adds_an_endpoint_with_its_secret_and_sees_the_url_to_paste(client):
    tenant = make_tenant("Alpha LLP", slug="alpha")
    client.force_login(make_user("fin", tenant=tenant, role=Role.FINANCE_ADMIN))
    response = client.post(reverse("admin:billing_webhookendpoint_add"), {
        "tenant": tenant.pk, "description": "Live mode", "enabled": "on", "tolerance_seconds": 300,
        "first_secret": SECRET, "secrets-TOTAL_FORMS": 0, "secrets-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:2000]

    endpoint = WebhookEndpoint.objects.get()
    assert [s.secret for s in endpoint.secrets.all()] == [SECRET]
    html = get(client, reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk]))
    assert f"http://testserver/stripe/webhooks/{endpoint.uuid}/" in html
    assert f"http://testserver/stripe/webhooks/{endpoint.uuid}/" in get(
        client, reverse("admin:billing_webhookendpoint_changelist"))
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook_secret_added").exists()


def test_a_value_that_is_not_a_signing_secret_is_refused_without_being_echoed(client):
    tenant = make_tenant()
    client.force_login(make_user(tenant=tenant, role=Role.FINANCE_ADMIN))
    response = client.post(reverse("admin:billing_webhookendpoint_add"), {
        "tenant": tenant.pk, "description": "x", "enabled": "on", "tolerance_seconds": 300,
        "first_secret": "sk_live_NotAWebhookSecret99", "secrets-TOTAL_FORMS": 0, "secrets-INITIAL_FORMS": 0})
    html = response.content.decode()
    assert response.status_code == 200 and "starts with whsec_" in html
    assert "NotAWebhookSecret99" not in html and not WebhookEndpoint.objects.exists()


def test_roll_secret_adds_the_new_one_and_gives_the_old_one_an_expiry(client, endpoint):
    client.force_login(make_user("fin", tenant=endpoint.tenant, role=Role.FINANCE_ADMIN))
    url = reverse("admin:billing_webhookendpoint_actions", args=[endpoint.pk, "roll_secret"])
    html = get(client, url)
    assert f"/stripe/webhooks/{endpoint.uuid}/" in html and 'type="password"' in html

    before = timezone.now()
    response = client.post(url, {"new_secret": NEW_SECRET, "old_valid_for": "24"})
    assert response.status_code == 302
    by_value = {s.secret: s for s in WebhookSecret.objects.all()}  # encrypted: compared decrypted
    old, new = by_value[SECRET], by_value[NEW_SECRET]
    assert new.expires_at is None and new.created_by.username == "fin"
    assert before + timedelta(hours=24) <= old.expires_at <= timezone.now() + timedelta(hours=24)
    assert LogEntry.objects.filter(object_id=str(endpoint.pk)).exists()

    # Both verify now; the change page lists them by number and date only.
    for event_id, secret in (("evt_with_old", SECRET), ("evt_with_new", NEW_SECRET)):
        body, signature = signed_event(event_id, secret)
        assert deliver(client, endpoint, body, signature).status_code == 200
    html = get(client, reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk]))
    assert f"#{old.pk}" in html and f"#{new.pk}" in html


def test_rolling_to_expire_now_refuses_the_old_secret_at_once(client, endpoint):
    client.force_login(make_user(tenant=endpoint.tenant, role=Role.FINANCE_ADMIN))
    url = reverse("admin:billing_webhookendpoint_actions", args=[endpoint.pk, "roll_secret"])
    assert client.post(url, {"new_secret": NEW_SECRET, "old_valid_for": "0"}).status_code == 302
    body, signature = signed_event("evt_old_after_roll", SECRET)
    assert deliver(client, endpoint, body, signature).status_code == 400


def test_the_ledger_shows_each_delivery_as_received_and_what_became_of_it(client, endpoint):
    body, signature = signed_event("evt_in_the_ledger")
    deliver(client, endpoint, body, signature)
    deliver(client, endpoint, body.replace(b"125000", b"999999"), signature)  # tampered
    deliver(client, endpoint, body, f"t={int(time.time())},v1=" + "0" * 64)
    client.get(f"/stripe/webhooks/{endpoint.uuid}/")
    client.force_login(make_user(tenant=endpoint.tenant, role=Role.SUPPORT))

    html = get(client, reverse("admin:billing_webhookdelivery_changelist"))
    assert "Accepted: new event" in html and "No signature matches a secret" in html and "Method not allowed" in html
    accepted = WebhookDelivery.objects.get(outcome="accepted")
    html = get(client, reverse("admin:billing_webhookdelivery_change", args=[accepted.pk]))
    assert "evt_in_the_ledger" in html and "Stripe-Signature" in html and "Replay processing" in html
    assert reverse("admin:connector_document_change", args=[accepted.event.document_id]) in html
    for delivery in WebhookDelivery.objects.exclude(pk=accepted.pk):
        html = get(client, reverse("admin:billing_webhookdelivery_change", args=[delivery.pk]))
        assert delivery.reason in html and "Replay processing" not in html
    get(client, reverse("admin:billing_webhookevent_changelist"))
    get(client, reverse("admin:billing_webhookevent_change", args=[accepted.event_id]))


def test_replay_processing_asks_first_then_queues_it_for_the_user(client, endpoint, sent_tasks):
    body, signature = signed_event("evt_replayed_by_support")
    deliver(client, endpoint, body, signature)
    delivery, event = WebhookDelivery.objects.get(), WebhookEvent.objects.get()
    user = make_user("sue", tenant=endpoint.tenant, role=Role.SUPPORT)
    client.force_login(user)
    sent_tasks.clear()
    url = reverse("admin:billing_webhookdelivery_actions", args=[delivery.pk, "replay_processing"])

    html = get(client, url)
    assert "evt_replayed_by_support" in html and not sent_tasks, "a GET only asks"
    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert sent_tasks == [("connector.process_document",
                           {"document_id": event.document_id, "trigger": "manual", "user_id": user.pk})]
    assert LogEntry.objects.filter(object_id=str(delivery.pk), user=user).exists()


def test_support_reads_the_ledger_of_its_tenant_only_and_never_the_endpoints(client, endpoint):
    other = WebhookEndpoint.objects.create(tenant=make_tenant("Beta LLP", slug="beta"))
    WebhookSecret.objects.create(endpoint=other, secret=OTHER_SECRET)
    for target, secret, event_id in ((endpoint, SECRET, "evt_alpha_1"), (other, OTHER_SECRET, "evt_beta_1")):
        body, signature = signed_event(event_id, secret)
        deliver(client, target, body, signature)
    mine = WebhookDelivery.objects.get(endpoint=endpoint)
    theirs = WebhookDelivery.objects.get(endpoint=other)
    client.force_login(make_user(tenant=endpoint.tenant, role=Role.SUPPORT))

    html = get(client, reverse("admin:billing_webhookdelivery_changelist"))
    assert "evt_alpha_1" in html and "evt_beta_1" not in html
    assert client.get(reverse("admin:billing_webhookdelivery_change", args=[theirs.pk])).status_code == 404
    replay = reverse("admin:billing_webhookdelivery_actions", args=[theirs.pk, "replay_processing"])
    client.post(replay, {"confirm": "yes"})
    assert client.get(reverse("admin:billing_webhookdelivery_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk])).status_code == 403
    assert client.get(reverse("admin:billing_webhookendpoint_changelist")).status_code == 403


def test_a_finance_admin_of_another_tenant_cannot_open_or_roll_an_endpoint(client, endpoint):
    client.force_login(make_user(tenant=make_tenant(), role=Role.FINANCE_ADMIN))
    assert client.get(reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk])).status_code == 404
    url = reverse("admin:billing_webhookendpoint_actions", args=[endpoint.pk, "roll_secret"])
    client.post(url, {"new_secret": NEW_SECRET, "old_valid_for": "0"})
    assert list(WebhookSecret.objects.values_list("secret", flat=True)) == [SECRET]


def test_saving_an_endpoint_keeps_its_secrets_and_can_set_an_expiry(client, endpoint):
    client.force_login(make_user(tenant=endpoint.tenant, role=Role.FINANCE_ADMIN))
    url = reverse("admin:billing_webhookendpoint_change", args=[endpoint.pk])
    response = client.get(url)
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["enabled"] = ""  # switched off
    for formset in response.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update({f"{fs.prefix}-{k}": v for k, v in fs.management_form.initial.items()})
        for i, f in enumerate(fs.forms):
            data.update({f"{fs.prefix}-{i}-{name}": f[name].value() or "" for name in f.fields})
            data[f"{fs.prefix}-{i}-expires_at_0"] = "2030-01-01"
            data[f"{fs.prefix}-{i}-expires_at_1"] = "00:00:00"
    assert client.post(url, data).status_code == 302
    endpoint.refresh_from_db()
    (secret,) = endpoint.secrets.all()
    assert not endpoint.enabled and secret.secret == SECRET and secret.expires_at.year == 2030
