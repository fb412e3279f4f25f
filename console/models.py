"""What the operations console keeps: failure groups (triage), replay jobs, alert settings and
every alert sent, retention policies, and the marks its periodic passes leave (heartbeats,
how far triage has read). The engine's own records (Document, AuditEvent, …) stay in
connector/; nothing here is needed for a document to be processed.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from connector.fields import EncryptedTextField
from connector.models import Document
from tenants.models import Tenant


class GroupKind(models.TextChoices):
    FAILURE = "failure", "Failure"
    MAPPING = "mapping", "Waiting on a mapping"


class GroupStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class FailureGroup(models.Model):
    """Documents failing the same way: one flow, one step, one error once its numbers, ids,
    quoted values, file names and amounts are folded (console/fingerprint.py). Needs-mapping
    documents are grouped by the one thing they wait on instead, so fixing that mapping
    replays them all."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="failure_groups")
    flow = models.CharField(max_length=40)
    step = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=10, choices=GroupKind.choices, default=GroupKind.FAILURE)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the folded error (or of what is missing)")
    pattern = models.TextField(help_text="The error with its particulars folded, as the group reads")
    failure_kind = models.CharField(max_length=10, blank=True)
    sample_error = models.TextField(blank=True, help_text="The latest real error of a document in the group")
    # For mapping groups: what is missing, as the flow names it (810-ap: the override kind and
    # the value in the file; ar-810: "client" and the Vantagepoint client id).
    missing_kind = models.CharField(max_length=20, blank=True)
    missing_value = models.CharField(max_length=200, blank=True)
    missing_label = models.CharField(max_length=200, blank=True, help_text="What is missing, as people name it")
    status = models.CharField(max_length=10, choices=GroupStatus.choices, default=GroupStatus.OPEN)
    open_count = models.PositiveIntegerField(default=0, help_text="Documents failing this way now (not ignored)")
    ignored_count = models.PositiveIntegerField(default=0)
    total_count = models.PositiveIntegerField(default=0, help_text="Documents that ever joined the group")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "flow", "step", "fingerprint"],
                                               name="one_group_per_fingerprint")]
        indexes = [models.Index(fields=["tenant", "status", "last_seen_at"], name="group_tenant_status_seen")]
        ordering = ["-last_seen_at", "-id"]
        verbose_name = "failure group"

    def __str__(self) -> str:
        return f"{self.flow} {self.step}: {self.problem()[:80]}"

    def problem(self) -> str:
        """What the group is about, in a line."""
        if self.kind == GroupKind.MAPPING and self.missing_value:
            return f"Waiting on {self.missing_kind} {self.missing_label or self.missing_value}"
        return self.pattern


class GroupMember(models.Model):
    """A document in a group. A failing document is in one failure group; a needs-mapping one
    in one group per missing item. Ignored documents stay (flagged) so the group can bring
    them back; a document that succeeds or is replayed into another error leaves."""

    group = models.ForeignKey(FailureGroup, on_delete=models.CASCADE, related_name="members")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    error = models.TextField(blank=True)
    ignored = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now, db_index=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "document"], name="document_once_per_group")]
        indexes = [models.Index(fields=["group", "ignored", "joined_at"], name="member_group_ignored_joined")]
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return f"{self.document} in group {self.group_id}"


class PassMark(models.Model):
    """How far a periodic pass has read (triage: the last audit event seen), or when a
    heartbeat was last written (beat). One row per name."""

    name = models.CharField(max_length=60, unique=True)
    at = models.DateTimeField(null=True, blank=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at}"


class ReplayStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"


class GroupReplay(models.Model):
    """"Replay all in this group": one queued task per document, progress as each finishes."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(FailureGroup, null=True, on_delete=models.SET_NULL, related_name="replays")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    description = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=ReplayStatus.choices, default=ReplayStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)
    finished = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "group replay"

    def __str__(self) -> str:
        return f"Replay of {self.description} ({self.finished}/{self.total})"


class GroupReplayItem(models.Model):
    replay = models.ForeignKey(GroupReplay, on_delete=models.CASCADE, related_name="items")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True, help_text="The document's state once processed")
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["replay", "document"], name="document_once_per_replay")]

    def __str__(self) -> str:
        return f"{self.document}: {self.outcome or 'queued'}"


class AlertSettings(models.Model):
    """Who hears about a tenant's problems, and how loudly."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="alert_settings")
    enabled = models.BooleanField(default=True)
    email_recipients = models.TextField(blank=True, help_text="One address per line")
    # A chat tool's incoming-webhook URL carries its own secret: encrypted, never shown.
    webhook_url = EncryptedTextField(blank=True, help_text="A generic JSON webhook (Slack, Teams, Mattermost, …)")
    growth_threshold = models.PositiveIntegerField(
        default=10, help_text="Alert when an open failure group reaches this many documents")
    throttle_minutes = models.PositiveIntegerField(
        default=60, help_text="The same alert is not sent again within this many minutes")
    max_notices_per_hour = models.PositiveIntegerField(
        default=20, help_text="Beyond this, alerts are listed here but not sent")

    SECRET_FIELDS = ("webhook_url",)
    TOKEN_FIELDS: tuple[str, ...] = ()

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"Alerts for {self.tenant}"

    def recipients(self) -> list[str]:
        return [line.strip() for line in self.email_recipients.replace(",", "\n").splitlines() if line.strip()]


class SilenceRule(models.Model):
    """A flow that should not go quiet: no successful cycle, or no document, for this long."""

    alert_settings = models.ForeignKey(AlertSettings, on_delete=models.CASCADE, related_name="silence_rules")
    flow = models.CharField(max_length=40)
    minutes_without_success = models.PositiveIntegerField(
        null=True, blank=True, help_text="Alert when no cycle has succeeded for this many minutes")
    hours_without_documents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Alert when no document has arrived for this many hours")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert_settings", "flow"], name="one_silence_rule_per_flow")]

    def __str__(self) -> str:
        return f"{self.flow} silence rule"


class AlertKind(models.TextChoices):
    NEW_GROUP = "new_group", "New failure group"
    GROUP_GREW = "group_grew", "Failure group grew past the threshold"
    NO_SUCCESS = "no_success", "No successful cycle"
    NO_DOCUMENTS = "no_documents", "No documents"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One condition, from when it started to when it cleared. `key` names the condition
    (e.g. "group:12:new", "silence:ar-810:success") so it fires once, however many passes see it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    key = models.CharField(max_length=120)
    group = models.ForeignKey(FailureGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    flow = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified = models.BooleanField(default=False, help_text="Whether its opening was sent (not throttled)")
    throttled = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], condition=models.Q(status="firing"),
                                               name="one_firing_alert_per_condition")]
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return self.title


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class AlertDelivery(models.Model):
    """Every alert sent, on each channel: what, to whom, and whether it went."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    notice = models.CharField(max_length=10, help_text="opened or resolved")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    recipients = models.CharField(max_length=500, help_text="Addresses, or the webhook's host (never its URL)")
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    ok = models.BooleanField(default=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name_plural = "alert deliveries"

    def __str__(self) -> str:
        return f"{self.channel} {self.notice}: {self.subject}"


class RetentionPolicy(models.Model):
    """How long a tenant keeps payloads and history. Rows, states and the audit trail are kept
    for good; what goes is the raw input, the artifacts and request bodies (sooner for
    finished documents, later for failures) and old attempts and sync runs."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="retention_policy")
    finished_payload_days = models.PositiveIntegerField(
        default=90, help_text="Payloads of sent, posted, acknowledged, duplicate documents")
    failed_payload_days = models.PositiveIntegerField(
        default=365, help_text="Payloads of failed, rejected, ignored and waiting documents (longer: to investigate)")
    attempt_days = models.PositiveIntegerField(default=365, help_text="Attempts (each try and its HTTP calls)")
    sync_run_days = models.PositiveIntegerField(default=90, help_text="Sync runs (one per polling cycle)")

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"Retention for {self.tenant}"


class DailyCount(models.Model):
    """Documents created on one day (the tenant's local day) of one flow, by their state now:
    the overview's charts read these instead of counting the documents of 30 days on every
    render. Kept by console.daily, a few days past the charts' window."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    flow = models.CharField(max_length=40)
    day = models.DateField()
    state = models.CharField(max_length=20)
    n = models.PositiveIntegerField(default=0)
    zone = models.CharField(max_length=64, help_text="The tenant's zone the day was counted in")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "flow", "state"], name="one_count_per_day")]
        indexes = [models.Index(fields=["day"], name="dailycount_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.flow} {self.day} {self.state}: {self.n}"
