"""Stripe webhook endpoints, their signing secrets, the ledger of deliveries and the events.

A delivery is one HTTP request that reached an endpoint URL, kept as received (body, headers,
remote address) whether or not it turned out to be genuine; an event is one Stripe event id
accepted on one endpoint. The unique (endpoint, stripe id) on the event is what makes
concurrent duplicate deliveries produce exactly one event; each delivery still gets its own
ledger row naming the event it carried. Services live in billing/webhooks/, not here.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from connector.fields import EncryptedTextField
from connector.models import Document
from tenants.models import Tenant

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookEndpoint(models.Model):
    """One URL Stripe posts to, /stripe/webhooks/<uuid>/, and the tenant it belongs to.

    A tenant may have several (e.g. one per Stripe account or mode); each has its own secrets."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="webhook_endpoints")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    description = models.CharField(max_length=200, blank=True, help_text="e.g. Live mode, account acct_…")
    enabled = models.BooleanField(default=True, help_text="A disabled endpoint answers 404 to every delivery")
    tolerance_seconds = models.PositiveIntegerField(
        default=DEFAULT_TOLERANCE_SECONDS,
        help_text="How far a signature's timestamp may be from now, in the past or the future")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["tenant__name", "created_at"]

    def __str__(self) -> str:
        return self.description or f"Endpoint {self.uuid}"


class WebhookSecret(models.Model):
    """A signing secret (whsec_…) of an endpoint. Several are valid while one is rolled: the
    new one at once, the old one until its expiry. The value is write-only: encrypted at rest
    and never shown again."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = EncryptedTextField()
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: valid until rolled")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   editable=False, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        # Never the value, not even a part of it: the row id and when it was added say which one.
        return f"Secret #{self.pk} added {self.created_at:%Y-%m-%d %H:%M}"

    def is_active(self, now=None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())


class DeliveryOutcome(models.TextChoices):
    RECEIVED = "received", "Received (being handled)"
    ACCEPTED = "accepted", "Accepted: new event"
    DUPLICATE = "duplicate", "Accepted: event already received"
    UNKNOWN_ENDPOINT = "unknown_endpoint", "Unknown or disabled endpoint"
    METHOD_NOT_ALLOWED = "method_not_allowed", "Method not allowed"
    NO_SIGNATURE = "no_signature", "Stripe-Signature header missing"
    MALFORMED_SIGNATURE = "malformed_signature", "Stripe-Signature header malformed"
    SIGNATURE_MISMATCH = "signature_mismatch", "No signature matches a secret"
    STALE = "stale", "Timestamp too old"
    FUTURE = "future", "Timestamp in the future"
    NOT_JSON = "not_json", "Body is not a JSON event"
    TOO_LARGE = "too_large", "Body too large"
    ERROR = "error", "Failed while handling"


class WebhookDelivery(models.Model):
    """One request that reached the webhook URL, stored before anything in it is trusted.

    The body is kept byte for byte (the first MAX_BODY_BYTES of a larger one, with its real
    size), so a signature can be checked again and a rejected delivery read as it came."""

    # Foreign keys without an index of their own where a composite index leads with them or
    # nothing looks rows up by them: each index is written on every delivery.
    # No database-level foreign keys to the tenant, endpoint and secret (db_constraint=False):
    # each insert would lock the one row every concurrent delivery shares (FOR KEY SHARE: a
    # multixact per row, and a third of PostgreSQL's throughput measured here). The statement
    # that inserts a delivery reads the endpoint and secret it names (its guard); the ORM's
    # on_delete still protects them, and a page shows a secret removed meanwhile as empty.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="deliveries", db_index=False, db_constraint=False)
    path = models.CharField(max_length=300, help_text="The URL path as requested")
    method = models.CharField(max_length=10)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes received; more than the body when truncated")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    outcome = models.CharField(max_length=20, choices=DeliveryOutcome.choices, default=DeliveryOutcome.RECEIVED)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="What we answered")
    verified = models.BooleanField(default=False, help_text="The signature matched one of the endpoint's secrets")
    reason = models.TextField(blank=True)
    signed_at = models.DateTimeField(null=True, blank=True, help_text="The signature's timestamp (t=)")
    secret = models.ForeignKey(WebhookSecret, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_index=False, db_constraint=False, help_text="The secret whose signature matched")
    event = models.ForeignKey("WebhookEvent", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="deliveries")
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["tenant", "received_at"], name="delivery_tenant_received"),
                   models.Index(fields=["endpoint", "received_at"], name="delivery_endpoint_received")]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} ({self.get_outcome_display().lower()})"

    @property
    def truncated(self) -> bool:
        return self.size > len(self.body or b"")


class WebhookEvent(models.Model):
    """One Stripe event id accepted on one endpoint, and the engine document that processes it.

    The request inserts the event alone (the outbox): a worker's drain makes its document and
    sends the processing, stamping `queued_at` (taken off again if the broker refuses). The
    sweeper drains what no nudge reached, sends what has no stamp, and again what was stamped
    long ago while its document never moved."""

    # No database-level foreign keys to the tenant and endpoint either (see WebhookDelivery).
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    # The unique (endpoint, stripe id) index serves lookups by endpoint.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="events", db_index=False,
                                 db_constraint=False)
    stripe_id = models.CharField(max_length=255, help_text="evt_…")
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, help_text="data.object.id: what to re-fetch")
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=40, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True, help_text="When Stripe created the event")
    # Empty until a drain makes the document (billing.webhooks.handoff): the request writes no document.
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Indexed for the sweeper: not stamped (NULL), or stamped long ago.
    queued_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                     help_text="When its processing was last sent to the broker")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "stripe_id"], name="one_event_per_endpoint_and_id")]
        indexes = [models.Index(fields=["tenant", "created_at"], name="event_tenant_created"),
                   # The outbox: events still waiting for their document, a small index the drain reads.
                   models.Index(fields=["id"], condition=models.Q(document__isnull=True),
                                name="event_awaiting_document")]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


# --- ar-stripe: which client firms are billed through Stripe, and their Stripe customers ------


class StripeClients(models.TextChoices):
    ALL = "all", "Every client firm"
    LISTED = "listed", "Only the client firms listed"


class StripeBilling(models.Model):
    """A tenant's choices for the ar-stripe flow: which client firms' posted AR invoices become
    Stripe invoices (all, or those listed), in which currency, and how they are collected.

    A tenant without this row bills no firm through Stripe: its invoices are ignored, saying so."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="stripe_billing")
    clients = models.CharField(max_length=10, choices=StripeClients.choices, default=StripeClients.LISTED,
                               help_text="Invoices of the other client firms are ignored, with the reason shown")
    currency = models.CharField(max_length=3, default="usd",
                                help_text="ISO code of the currency Vantagepoint bills in (e.g. usd, jpy); "
                                          "a listed firm may have its own")
    days_until_due = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Blank: from the invoice's due date, else the firm's pay terms in days, else 30")

    class Meta:
        verbose_name = "Stripe billing"
        verbose_name_plural = "Stripe billing"

    def __str__(self) -> str:
        return f"Stripe billing of {self.tenant}"


class StripeBilledClient(models.Model):
    """A client firm (Vantagepoint ClientID) whose invoices go to Stripe when the tenant bills
    listed firms only."""

    billing = models.ForeignKey(StripeBilling, on_delete=models.CASCADE, related_name="listed")
    client_id = models.CharField(max_length=64, help_text="Vantagepoint ClientID (the 32-character key) or client code")
    name = models.CharField(max_length=200, blank=True, help_text="For people; the flow reads the firm from Vantagepoint")
    currency = models.CharField(max_length=3, blank=True, help_text="Blank: the tenant's currency")

    class Meta:
        ordering = ["name", "client_id"]
        constraints = [models.UniqueConstraint(fields=["billing", "client_id"], name="one_listing_per_client_firm")]

    def __str__(self) -> str:
        return self.name or self.client_id


class StripeCustomerMapping(models.Model):
    """A Vantagepoint client firm's Stripe customer, and the hash of the details last sent to it
    (name, email, address): a firm whose details hash differently is updated at Stripe."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    client_id = models.CharField(max_length=64, help_text="Vantagepoint ClientID")
    client_name = models.CharField(max_length=200, blank=True)
    customer_id = models.CharField(max_length=255, help_text="cus_…")
    livemode = models.BooleanField(default=False)
    details_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant", "client_name"]
        verbose_name = "Stripe customer mapping"
        constraints = [models.UniqueConstraint(fields=["tenant", "client_id"], name="one_stripe_customer_per_firm")]

    def __str__(self) -> str:
        return f"{self.client_name or self.client_id} → {self.customer_id}"
