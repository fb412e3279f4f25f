"""The Stripe connection: its fields, its test in the admin's "Test connections"."""
from __future__ import annotations

import pytest
import stripe
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.stripe.connection_test import stripe_connection_test
from connector.http import mount_transport, unmount_transport
from connector.ratelimit import LocalRateLimiter
from sandbox.stripe import SANDBOX_SECRET_KEY
from tenants.connection_checks import connection_check_run
from tenants.models import StripeConnection, Tenant
from tests.factories import make_user
from tests.stripe.conftest import BASE_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def mounted(sim):
    mount_transport(BASE_URL, sim.transport())
    yield sim
    unmount_transport(BASE_URL)


def check(connection, sim_time):
    return stripe_connection_test(connection, sleep=sim_time.sleep,
                                  limiter=LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep))


def test_a_working_key_shows_the_account_the_mode_and_the_pinned_version(connection, mounted, sim_time):
    outcome = check(connection, sim_time)
    assert outcome.ok and not outcome.warnings
    text = outcome.summary()
    assert f"Secret key ending in …{SANDBOX_SECRET_KEY[-4:]} accepted, test mode." in text
    assert "Account acct_1SandboxEngLLC0 (Sandbox Engineering LLC, US, default currency USD)." in text
    assert f"API version pinned: {stripe.api_version}" in text
    assert SANDBOX_SECRET_KEY not in text


def test_a_revoked_key_fails_as_config_naming_its_last_four_only(connection, mounted, sim_time):
    mounted.revoke_key(SANDBOX_SECRET_KEY)
    outcome = check(connection, sim_time)
    assert not outcome.ok
    assert outcome.lines[0].startswith("Failed (config): Stripe refused the secret key ending in …")
    assert SANDBOX_SECRET_KEY not in outcome.summary() and SANDBOX_SECRET_KEY[:-4] not in outcome.summary()


def test_a_live_key_says_live_mode(connection, mounted, sim_time):
    connection.secret_key = mounted.add_key(live=True)
    outcome = check(connection, sim_time)
    assert "live mode" in outcome.summary()
    assert any("not Stripe" in w for w in outcome.warnings), "a live key against anything but api.stripe.com"


def test_a_version_older_than_invoice_payments_is_a_warning(connection, mounted, sim_time):
    connection.api_version = "2024-06-20"
    outcome = check(connection, sim_time)
    assert outcome.ok and "older than 2025-03-31.basil" in outcome.warnings[0]


def test_it_is_registered_and_saves_its_result(connection, mounted):
    outcome = connection_check_run(connection)
    assert outcome.ok, outcome.summary()
    connection.refresh_from_db()
    assert connection.last_test_result.startswith("OK\nSecret key ending in …")


def test_test_connections_in_the_admin_says_ok_for_stripe(client, connection, mounted):
    client.force_login(make_user(superuser=True))
    url = reverse("admin:tenants_tenant_actions", args=[connection.tenant.pk, "test_connections"])
    response = client.get(url, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Stripe connection: OK") for m in messages), messages
    assert SANDBOX_SECRET_KEY not in response.content.decode()


def test_a_new_connection_pins_the_sdks_version_and_refuses_a_malformed_one():
    tenant = Tenant.objects.create(name="Globex", slug="globex")
    made = StripeConnection.objects.create(tenant=tenant, secret_key="sk_test_x")
    assert made.api_version == stripe.api_version == "2026-10-28.endive"
    assert (made.api_base, made.requests_per_second) == ("https://api.stripe.com", 25)
    made.api_version = "latest"
    with pytest.raises(ValidationError, match="2026-10-28.endive"):
        made.full_clean()


def test_the_admin_form_keeps_the_key_write_only_and_edits_the_version(client, connection):
    client.force_login(make_user(superuser=True))
    html = client.get(reverse("admin:tenants_tenant_change", args=[connection.tenant.pk])).content.decode()
    assert SANDBOX_SECRET_KEY not in html
    assert 'name="stripeconnection-0-api_version"' in html and f'value="{connection.api_version}"' in html
    assert 'name="stripeconnection-0-requests_per_second"' in html
