"""No secret is readable in the raw database columns or in any admin page; rotation works."""
import re

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from billing.models import WebhookSecret
from connector.models import Document
from tenants.models import CleoConnection, StripeConnection, VantagepointConnection
from tenants.rotation import credentials_rotate
from tests.factories import ALL_SECRETS, VP_PASSWORD, WEBHOOK_SECRET, make_connections, make_tenant, make_user

pytestmark = pytest.mark.django_db


def raw_rows(model):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
        return [" ".join(str(v) for v in row) for row in cursor.fetchall()]


def test_no_secret_is_readable_in_the_raw_columns():
    make_connections(make_tenant())
    dump = " ".join(row for model in (VantagepointConnection, CleoConnection, StripeConnection, WebhookSecret)
                    for row in raw_rows(model))
    for secret in ALL_SECRETS:
        assert secret not in dump
    assert "gAAAAA" in dump, "values are stored as Fernet tokens"
    # ...and the model still reads them back.
    assert VantagepointConnection.objects.get().password == VP_PASSWORD


def admin_pages(tenant, document):
    vp = tenant.vantagepointconnection
    return [
        reverse("admin:index"),
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_change", args=[tenant.pk]),
        reverse("admin:tenants_tenant_add"),
        reverse("admin:connector_document_changelist"),
        reverse("admin:connector_document_change", args=[document.pk]),
        reverse("admin:connector_auditevent_changelist"),
        reverse("admin:connector_attempt_changelist"),
        reverse("admin:connector_syncrun_changelist"),
        reverse("admin:tenants_tenantmembership_changelist"),
        reverse("admin:tenants_tenant_history", args=[tenant.pk]),
    ] + ([] if vp is None else [])


def test_no_admin_page_renders_a_secret(client):
    tenant = make_tenant()
    make_connections(tenant)
    document = Document.objects.create(tenant=tenant, flow="echo", external_key="K")
    client.force_login(make_user(superuser=True))
    for url in admin_pages(tenant, document):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in ALL_SECRETS:
            assert secret not in html, f"{secret} leaked on {url}"
    html = client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk])).content.decode()
    assert "stored — leave empty to keep" in html
    assert not re.search(r'name="[^"]*-(access_token|refresh_token)"', html), "tokens are not even inputs"


def _inline_post_data(client, tenant, **secret_updates):
    """The tenant change form as the browser would submit it."""
    response = client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    form = response.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["active"] = "on"
    for formset in response.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update({f"{fs.prefix}-{k}": v for k, v in fs.management_form.initial.items()})
        for i, f in enumerate(fs.forms):
            for name in f.fields:
                value = f[name].value()
                if value is None or value is False:
                    continue
                data[f"{fs.prefix}-{i}-{name}"] = "on" if value is True else value
    data.update(secret_updates)
    return data


def test_an_empty_secret_input_keeps_the_stored_value_and_a_new_one_replaces_it(client):
    tenant = make_tenant()
    make_connections(tenant)
    client.force_login(make_user(superuser=True))
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    response = client.post(url, _inline_post_data(client, tenant, **{"vantagepointconnection-0-password": ""}))
    assert response.status_code == 302, response.content.decode()[:3000]
    vp = VantagepointConnection.objects.get()
    assert vp.password == VP_PASSWORD
    assert vp.access_token == "tok-ACCESS-6", "unchanged credentials keep the cached token"

    client.post(url, _inline_post_data(client, tenant, **{"vantagepointconnection-0-password": "new-PASSWORD-8"}))
    vp.refresh_from_db()
    assert vp.password == "new-PASSWORD-8"
    assert vp.access_token == "" and vp.refresh_token == "", "a new credential drops the cached tokens"


def test_rotation_re_encrypts_every_secret_under_the_newest_key(settings):
    old_key = settings.CREDENTIAL_KEYS[0]
    make_connections(make_tenant())
    new_key = Fernet.generate_key().decode()
    with override_settings(CREDENTIAL_KEYS=[new_key, old_key]):
        counts = credentials_rotate()
    # Every model with an encrypted field is rotated, whichever app owns it (the console's alert
    # webhook URL too: none is stored here).
    assert counts == {"tenants_vantagepointconnection": 1, "tenants_cleoconnection": 1, "tenants_stripeconnection": 1,
                      "billing_webhooksecret": 1, "console_alertsettings": 0}
    with override_settings(CREDENTIAL_KEYS=[new_key]):
        assert VantagepointConnection.objects.get().password == VP_PASSWORD
        assert WebhookSecret.objects.get().secret == WEBHOOK_SECRET
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM tenants_vantagepointconnection")
        token = cursor.fetchone()[0]
    assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == VP_PASSWORD


MOVES = [
    ("vantagepointconnection", "base_url", "https://attacker.example/api", ("password", "client_secret")),
    ("vantagepointconnection", "database", "OtherDB", ("password", "client_secret")),
    ("vantagepointconnection", "username", "someone-else", ("password", "client_secret")),
    ("vantagepointconnection", "client_id", "client-evil", ("password", "client_secret")),
    ("cleoconnection", "base_url", "https://attacker.example", ("password",)),
    ("cleoconnection", "username", "someone-else", ("password",)),
]
MODELS = {"vantagepointconnection": VantagepointConnection, "cleoconnection": CleoConnection}


def _with_cached_tokens(tenant):
    make_connections(tenant)
    CleoConnection.objects.filter(tenant=tenant).update(access_token="tok-CLEO-9", refresh_token="tok-CLEO-10",
                                                       last_test_result="ok")
    VantagepointConnection.objects.filter(tenant=tenant).update(last_test_result="ok")


@pytest.mark.parametrize("prefix,field,value,secrets", MOVES)
def test_pointing_a_connection_elsewhere_requires_its_secrets_again(client, prefix, field, value, secrets):
    tenant = make_tenant()
    _with_cached_tokens(tenant)
    client.force_login(make_user(superuser=True))
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    before = MODELS[prefix].objects.get(tenant=tenant)

    response = client.post(url, _inline_post_data(client, tenant, **{f"{prefix}-0-{field}": value}))
    assert response.status_code == 200, "the form comes back with errors"
    (form,) = next(f.formset.forms for f in response.context["inline_admin_formsets"] if f.formset.prefix == prefix)
    assert sorted(form.errors) == sorted(secrets)
    assert all("again" in form.errors[name][0] for name in secrets)
    after = MODELS[prefix].objects.get(tenant=tenant)
    assert getattr(after, field) == getattr(before, field), "nothing saved: the old secret cannot reach the new host"
    assert after.access_token == before.access_token

    entered = {f"{prefix}-0-{name}": f"new-{name}-11" for name in secrets}
    response = client.post(url, _inline_post_data(client, tenant, **{f"{prefix}-0-{field}": value, **entered}))
    assert response.status_code == 302
    after = MODELS[prefix].objects.get(tenant=tenant)
    assert getattr(after, field) == value
    assert all(getattr(after, name) == f"new-{name}-11" for name in secrets)
    assert (after.access_token, after.refresh_token, after.token_expires_at) == ("", "", None), "tokens of the old host"
    assert after.last_test_result == "" and after.last_tested_at is None


def test_other_changes_keep_the_stored_secrets_and_tokens_without_asking(client):
    tenant = make_tenant()
    _with_cached_tokens(tenant)
    client.force_login(make_user(superuser=True))
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    response = client.post(url, _inline_post_data(client, tenant, **{
        "vantagepointconnection-0-liability_code": "AP2", "cleoconnection-0-requests_per_second": "3"}))
    assert response.status_code == 302
    vp, cleo = VantagepointConnection.objects.get(), CleoConnection.objects.get()
    assert (vp.liability_code, vp.password, vp.access_token) == ("AP2", VP_PASSWORD, "tok-ACCESS-6")
    assert (cleo.requests_per_second, cleo.access_token) == (3, "tok-CLEO-9")
