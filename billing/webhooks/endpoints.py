"""Webhook endpoints and their signing secrets: the URL to give Stripe, adding and rolling secrets.

Stripe's own roll works the same way: the endpoint gets a new secret at once and the old one
stays valid until an expiry chosen by whoever rolls it, so events signed with either verify
while Stripe switches over. A secret is write-only: nothing here returns or logs its value.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from connector.documents import audit_record

from ..models import WebhookEndpoint, WebhookSecret

SECRET_PATTERN = re.compile(r"whsec_[A-Za-z0-9+/=_-]{8,250}")


def webhook_endpoint_url(endpoint: WebhookEndpoint, *, base_url: str) -> str:
    """The full URL to paste into Stripe's dashboard, e.g. https://connector.example.com/stripe/webhooks/<uuid>/."""
    return base_url.rstrip("/") + reverse("billing:stripe-webhook", kwargs={"endpoint_key": str(endpoint.uuid)})


def webhook_secret_validate(value: str) -> str:
    """The secret stripped of surrounding blanks; ValidationError (never quoting it) when it
    cannot be a Stripe signing secret."""
    value = value.strip()
    if not SECRET_PATTERN.fullmatch(value):
        raise ValidationError("A Stripe signing secret starts with whsec_ followed by letters and digits "
                              "(copy it from the endpoint's page in Stripe's dashboard).", code="not_a_secret")
    return value


def active_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None):
    now = now or timezone.now()
    return endpoint.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def webhook_secret_roll(*, endpoint: WebhookEndpoint, new_secret: str, old_valid_for: timedelta | None,
                        user: AbstractBaseUser | None) -> WebhookSecret:
    """Add `new_secret`; every secret still active expires `old_valid_for` from now (None: they
    stay valid, as when a first secret is added). Returns the new secret's row."""
    value = webhook_secret_validate(new_secret)
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if any(s.secret == value for s in active_secrets(endpoint, now=now)):
            raise ValidationError("This secret is already an active secret of the endpoint.", code="duplicate")
        expired: list[int] = []
        if old_valid_for is not None:
            expires_at = now + old_valid_for
            for old in active_secrets(endpoint, now=now):
                if old.expires_at is None or old.expires_at > expires_at:
                    old.expires_at = expires_at
                    old.save(update_fields=["expires_at"])
                    expired.append(old.pk)
        secret = WebhookSecret.objects.create(endpoint=endpoint, secret=value, created_by=user)
        ending = (f"; secret(s) #{', #'.join(map(str, expired))} valid until {now + old_valid_for:%Y-%m-%d %H:%M} UTC"
                  if expired and old_valid_for is not None else "")
        audit_record(tenant=endpoint.tenant, user=user, action="webhook_secret_added",
                     reason=f"webhook endpoint {endpoint.uuid}: secret #{secret.pk} added{ending}")
    return secret
