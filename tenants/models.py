"""Tenants, who may act for them, and one connection per outside system.

Every secret and cached token is an EncryptedTextField: the database holds Fernet tokens
only. Connections carry no behaviour; the clients in connector/ and edi/ read them.
"""
from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from connector.fields import EncryptedTextField


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known IANA time zone (e.g. America/New_York).")


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    active = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # The firm itself, as invoices name it (the 810's remit-to party).
    legal_name = models.CharField(max_length=60, blank=True, help_text="As printed on invoices (blank: the name)")
    address_line1 = models.CharField(max_length=55, blank=True)
    address_line2 = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=15, blank=True)
    country = models.CharField(max_length=3, blank=True, default="US")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    FINANCE_ADMIN = "finance_admin", "Finance admin"
    SUPPORT = "support", "Support"


class TenantMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_user_and_tenant")]

    def __str__(self) -> str:
        return f"{self.user} — {self.tenant} ({self.get_role_display()})"


class Connection(models.Model):
    """What every connection has: its tenant, an on/off switch and the last test result."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="%(class)s")
    enabled = models.BooleanField(default=False)
    last_tested_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_result = models.TextField(blank=True, editable=False)

    # Cached tokens are kept out of every form; SECRET_FIELDS are the write-only inputs.
    SECRET_FIELDS: tuple[str, ...] = ()
    TOKEN_FIELDS: tuple[str, ...] = ()
    # Where, and as whom, the connection logs in: changing one asks for the secrets again, so a
    # stored secret is never sent to a host (or account) it was not entered for.
    DESTINATION_FIELDS: tuple[str, ...] = ()

    class Meta:
        abstract = True


class VantagepointConnection(Connection):
    base_url = models.URLField(
        max_length=300, help_text="The whole API URL, e.g. https://acme.deltekfirst.com/Acme/api"
    )
    database = models.CharField(max_length=100)
    username = models.CharField(max_length=100)
    password = EncryptedTextField(blank=True)
    client_id = models.CharField(max_length=200)
    client_secret = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True, editable=False)
    refresh_token = EncryptedTextField(blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Posting details the flows need: the company posted into, and default bank and AR account.
    client_company = models.CharField(max_length=30, blank=True, help_text="Company for PostTransFile (blank: default)")
    bank_code = models.CharField(max_length=30, blank=True)
    ar_account = models.CharField(max_length=30, blank=True, help_text="AR account for cash receipts")
    liability_code = models.CharField(max_length=30, blank=True, help_text="AP liability code for vouchers")

    SECRET_FIELDS = ("password", "client_secret")
    TOKEN_FIELDS = ("access_token", "refresh_token")
    DESTINATION_FIELDS = ("base_url", "database", "username", "client_id")

    def __str__(self) -> str:
        return f"Vantagepoint for {self.tenant}"


class CleoConnection(Connection):
    base_url = models.URLField(max_length=300, help_text="e.g. https://acme.cleointegration.com")
    username = models.CharField(max_length=200, help_text="A service account without TOTP two-factor or SSO")
    password = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True, editable=False)
    refresh_token = EncryptedTextField(blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    requests_per_second = models.PositiveIntegerField(default=5, help_text="Per API path; Cleo answers 429 above it")

    SECRET_FIELDS = ("password",)
    TOKEN_FIELDS = ("access_token", "refresh_token")
    DESTINATION_FIELDS = ("base_url", "username")

    def __str__(self) -> str:
        return f"Cleo for {self.tenant}"


def stripe_sdk_api_version() -> str:
    """The API version the pinned stripe-python speaks: what a new connection pins."""
    import stripe

    return stripe.api_version


class StripeConnection(Connection):
    # Webhook endpoints and their signing secrets are billing's (billing.models.WebhookEndpoint).
    secret_key = EncryptedTextField(blank=True, help_text="sk_test_… or sk_live_… (a restricted rk_… key works too)")
    api_version = models.CharField(
        max_length=40, default=stripe_sdk_api_version,
        validators=[RegexValidator(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$", "An API version looks like 2026-10-28.endive.")],
        help_text="Sent as Stripe-Version on every request (default: the version of the installed stripe-python)",
    )
    api_base = models.URLField(max_length=200, default="https://api.stripe.com",
                               help_text="Stripe's API address; only a simulator changes it")
    requests_per_second = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1)],
        help_text="Stripe's limit for this account: 25 in test mode, 100 live. Requests are paced just below it.",
    )

    SECRET_FIELDS = ("secret_key",)

    def __str__(self) -> str:
        return f"Stripe for {self.tenant}"


CONNECTION_MODELS: tuple[type[Connection], ...] = (VantagepointConnection, CleoConnection, StripeConnection)
