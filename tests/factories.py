"""Plain functions that build test data."""
from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from tenants.models import CleoConnection, Role, StripeConnection, Tenant, TenantMembership, VantagepointConnection

_seq = itertools.count(1)

VP_PASSWORD = "vp-Pa55word-SECRET-1"
VP_CLIENT_SECRET = "vp-client-SECRET-2"
CLEO_PASSWORD = "cleo-Pa55-SECRET-3"
STRIPE_KEY = "sk_test_SECRET4abcdef"
WEBHOOK_SECRET = "whsec_SECRET5abcdef"
ALL_SECRETS = (VP_PASSWORD, VP_CLIENT_SECRET, CLEO_PASSWORD, STRIPE_KEY, WEBHOOK_SECRET, "tok-ACCESS-6", "tok-REFRESH-7")


def make_tenant(name: str | None = None, **kwargs) -> Tenant:
    n = next(_seq)
    name = name or f"Tenant {n}"
    return Tenant.objects.create(name=name, slug=kwargs.pop("slug", f"tenant-{n}"), **kwargs)


def make_user(username: str | None = None, *, tenant: Tenant | None = None, role: str = Role.FINANCE_ADMIN,
              superuser: bool = False, password: str = "pw-for-tests-1"):
    user = get_user_model().objects.create_user(
        username=username or f"user{next(_seq)}", password=password, is_staff=True, is_superuser=superuser,
    )
    if tenant is not None:
        TenantMembership.objects.create(user=user, tenant=tenant, role=role)
    return user


def make_connections(tenant: Tenant, *, enabled: bool = True) -> None:
    VantagepointConnection.objects.create(
        tenant=tenant, enabled=enabled, base_url="http://vp.test/Sandbox/api", database="SandboxDB",
        username="api", password=VP_PASSWORD, client_id="client-1", client_secret=VP_CLIENT_SECRET,
        access_token="tok-ACCESS-6", refresh_token="tok-REFRESH-7",
    )
    CleoConnection.objects.create(tenant=tenant, enabled=enabled, base_url="http://cleo.test", username="svc",
                                  password=CLEO_PASSWORD)
    StripeConnection.objects.create(tenant=tenant, enabled=enabled, secret_key=STRIPE_KEY)
    make_webhook_endpoint(tenant)


def make_webhook_endpoint(tenant: Tenant, *, secret: str = WEBHOOK_SECRET):
    from billing.models import WebhookEndpoint, WebhookSecret

    endpoint = WebhookEndpoint.objects.create(tenant=tenant, description="Stripe live mode")
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    return endpoint


def make_partner(tenant: Tenant, **kwargs):
    from edi.models import TradingPartner

    n = next(_seq)
    defaults = dict(name=f"Partner {n}", our_isa_id="MLCONNECTOR", their_isa_id=f"PARTNER{n}", our_gs_id="MLCONNECTOR",
                    their_gs_id=f"PARTNER{n}", outbound_folder=f"to-partner-{n}", inbound_folder=f"from-partner-{n}")
    defaults.update(kwargs)
    return TradingPartner.objects.create(tenant=tenant, **defaults)
