"""The engine's records: what came in, every try at it, every outside effect, every change of
state, every run.

Deduplication is a database guarantee: one Document per (tenant, flow, external key), one
Effect per (document, step, name), one SyncCursor per (tenant, cursor name), one RunLock per
key, one FlowSchedule per (tenant, flow). Business logic lives in services
(connector/documents.py, pipeline.py, effects.py, streams.py, work.py, sync.py, schedules.py),
not here.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tenants.models import Tenant

from .failures import FailureKind


class DocumentState(models.TextChoices):
    RECEIVED = "received", "Received"
    MAPPED = "mapped", "Mapped"
    SENT = "sent", "Sent"
    POSTED = "posted", "Posted"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    REJECTED = "rejected", "Rejected"
    DUPLICATE = "duplicate", "Duplicate"
    NEEDS_MAPPING = "needs_mapping", "Needs mapping"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"
    # Went through every step of a flow whose end is neither "sent" nor "posted" (a file taken in).
    DONE = "done", "Done"


class Trigger(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MANUAL = "manual", "Manual"
    WEBHOOK = "webhook", "Webhook"
    RETRY = "retry", "Automatic retry"


class Document(models.Model):
    """One business record in one flow: an AR invoice going out, one invoice inside an
    inbound file, one Stripe event."""

    # Indexed by the (tenant, created_at, id) index below, which also serves tenant lookups.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="documents", db_index=False)
    flow = models.CharField(max_length=40)  # in the indexes below
    external_key = models.CharField(max_length=200, help_text="The source system's key for this record")
    state = models.CharField(max_length=20, choices=DocumentState.choices, default=DocumentState.RECEIVED)
    # The step to run next (or that failed); replay resumes here.
    step = models.CharField(max_length=40, blank=True)
    raw = models.TextField(blank=True, help_text="The input exactly as received")
    mapped = models.JSONField(default=dict, blank=True)
    artifact = models.TextField(blank=True, help_text="What was produced: the 810 text, the request sent")
    artifact_name = models.CharField(max_length=255, blank=True, help_text="e.g. the file name, saved before upload")
    external_ids = models.JSONField(default=dict, blank=True, help_text="Ids on both sides")
    source = models.CharField(max_length=255, blank=True, help_text="Where it came from (folder/file, event)")
    failure_kind = models.CharField(max_length=10, choices=[(k.value, k.value) for k in FailureKind], blank=True)
    last_error = models.TextField(blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The run whose counts this document's outcome goes to, until it is counted (connector.work).
    run = models.ForeignKey("SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents")
    # When a task was last queued for it: a cycle does not queue it again while that is recent.
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # What the business calls it, filled by the engine from the flow's `summarize` hook
    # (connector.summary) whenever a step changes what the document holds: the list shows
    # and searches these, never the payload columns above.
    reference = models.CharField("invoice or reference", max_length=100, blank=True)
    counterparty = models.CharField("client or vendor", max_length=200, blank=True)
    partner = models.CharField("trading partner", max_length=120, blank=True, help_text="Or the channel it came by")
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # Lower-cased words people search by (reference, names, file name, every external id);
    # a GIN index on (tenant, search_text) with pg_trgm on PostgreSQL (migration 0012) makes
    # "1002" find DS-1002 fast, within a tenant too.
    search_text = models.TextField(blank=True, editable=False)
    # The record changed in its source system after this document went out (an AR invoice
    # edited in Vantagepoint after its 810 was sent): flagged, audited, never re-sent by itself.
    source_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "flow", "external_key"], name="one_document_per_external_key"),
        ]
        # The list's orderings, newest first, carrying what its filters test, so a page (deep
        # ones too) is read from the index alone: one per tenant, one across tenants.
        indexes = [
            models.Index(fields=["tenant", "flow", "state"], name="document_tenant_flow_state"),
            models.Index(fields=["tenant", "-created_at", "-id"], include=["flow", "state"],
                         name="document_tenant_newest"),
            models.Index(fields=["-created_at", "-id"], include=["tenant", "flow", "state"], name="document_newest"),
            models.Index(fields=["tenant", "flow"], condition=models.Q(source_changed_at__isnull=False),
                         name="document_source_changed"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.flow} {self.external_key}"


class Attempt(models.Model):
    """One try of one step, with the HTTP calls it made."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attempts")
    step = models.CharField(max_length=40)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    calls = models.JSONField(default=list, blank=True, help_text="method, path, status, ms of each HTTP call")
    succeeded = models.BooleanField(default=False)
    failure_kind = models.CharField(max_length=10, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at", "-id"], name="attempt_newest")]

    def __str__(self) -> str:
        return f"{self.step} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class EffectState(models.TextChoices):
    INTENDED = "intended", "Intended (not made yet)"
    UNKNOWN = "unknown", "Unknown (may have happened: look before acting)"
    CONFIRMED = "confirmed", "Confirmed"


class Effect(models.Model):
    """An outside effect a step makes (an upload, a voucher post, a Stripe create), declared
    before it is made, with the idempotency key every try of it uses (connector/effects.py)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="effects")
    step = models.CharField(max_length=40)
    name = models.CharField(max_length=60)
    key = models.CharField(max_length=255, db_index=True, help_text="Idempotency key: the same on every try")
    state = models.CharField(max_length=10, choices=EffectState.choices, default=EffectState.INTENDED)
    intent = models.JSONField(default=dict, blank=True, help_text="What was fixed when it was declared")
    result = models.JSONField(null=True, blank=True, help_text="What the outside system answered or showed")
    confirmed_by = models.CharField(max_length=10, blank=True, help_text="'do' (made it) or 'look' (found it made)")
    calls = models.PositiveIntegerField(default=0, help_text="How many times it was attempted")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "step", "name"], name="one_effect_per_step_name")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.step}.{self.name} {self.state}"


class AuditEvent(models.Model):
    """Every change of state, naming who caused it: 'system' or the user who clicked."""

    # Indexed by the (tenant, at, id) index below.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events", db_index=False)
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.CharField(max_length=150, default="system")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-at", "-id"], name="audit_tenant_newest"),
            models.Index(fields=["-at", "-id"], name="audit_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.actor}: {self.action} {self.from_state}→{self.to_state}"


class SyncRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # Its process died (killed, machine lost); the next run of the flow for the tenant found it.
    ABANDONED = "abandoned", "Abandoned (its process stopped)"


class SyncRun(models.Model):
    """One polling cycle of one flow for one tenant."""

    # Indexed by the (tenant, flow, started_at, id) index below.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sync_runs", db_index=False)
    flow = models.CharField(max_length=40)  # in the indexes below
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.CharField(max_length=200, blank=True)
    # How far the cycle is through the documents it is working on, saved while it runs so
    # the schedule page can draw a progress bar (None: not known yet).
    progress_done = models.PositiveIntegerField(null=True, blank=True)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="seen, new, sent, duplicate, failed")
    cursor_before = models.CharField(max_length=200, blank=True)
    cursor_after = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # The Celery task that ran it: a task redelivered after its worker died finds its own run.
    task_id = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # The latest runs of a tenant's flow (schedules, the overview), and the list's order.
        indexes = [
            models.Index(fields=["tenant", "flow", "-started_at", "-id"], name="syncrun_tenant_flow_newest"),
            models.Index(fields=["-started_at", "-id"], name="syncrun_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.flow} for {self.tenant} at {self.started_at:%Y-%m-%d %H:%M}"


class FlowSchedule(models.Model):
    """The periodic task we own for one (tenant, flow).

    The cadence lives on the django-celery-beat task, where a human may edit it; `enabled` is
    whether a human wants the flow scheduled at all. The task runs only while both this and
    the tenant's connections for the flow are on (connector.schedules keeps that true). A tick
    that finds a run still in progress writes no run: it is counted here. So is a quiet cycle
    (one that ran, received nothing, handed out nothing and failed nothing: connector.sync),
    whose SyncRun row is removed when it ends; the overview and the silence alert count it
    as a successful cycle.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="flow_schedules")
    flow = models.CharField(max_length=40)
    periodic_task = models.OneToOneField(PeriodicTask, on_delete=models.CASCADE, related_name="flow_schedule")
    enabled = models.BooleanField(default=True, help_text="Off pauses this flow for this tenant, whatever its connections")
    skip_count = models.PositiveIntegerField(default=0, help_text="Ticks skipped because a run was still in progress")
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    quiet_count = models.PositiveIntegerField(default=0, help_text="Cycles that ran and found nothing to do")
    last_quiet_at = models.DateTimeField(null=True, blank=True, help_text="When the last quiet cycle ended")
    # The task of the last quiet cycle a person started ("Run now"): its page says how it ended.
    last_quiet_task_id = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "flow"], name="one_schedule_per_tenant_flow")]
        ordering = ["tenant", "flow"]
        verbose_name = "schedule"

    def __str__(self) -> str:
        return f"{self.flow} for {self.tenant}"


class SyncCursor(models.Model):
    """How far one flow has read one stream for a tenant; advanced only past committed documents.

    `stream` holds the cursor name, "<flow>:<stream>" (connector.streams.cursor_name), so two
    flows reading the same stream each keep their own place."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="cursors")
    stream = models.CharField(max_length=100, help_text="flow:stream, e.g. ar-810:vantagepoint:ar-invoices")
    value = models.CharField(max_length=200, blank=True, help_text=(
        "Where the stream resumes; empty reads from the beginning. Vantagepoint streams take a "
        "zone-less date, e.g. 2024-06-01T00:00:00.000"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "stream"], name="one_cursor_per_stream")]

    def __str__(self) -> str:
        return f"{self.stream}={self.value}"


class RunLock(models.Model):
    """The database lock used when no Redis is configured: one row per held key."""

    key = models.CharField(max_length=200, unique=True)
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key


class ConnectionStatus(models.Model):
    """Per tenant and outside system (vantagepoint, cleo, stripe), how its last real call went:
    when, ok or not, since when it has been failing and why (a status or an error class,
    never a body, a header or a secret). Written by the HTTP layer (connector.call_status) at
    most once a minute per row unless the outcome changes, and by "Test connections"."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connection_statuses")
    system = models.CharField(max_length=20)
    last_call_at = models.DateTimeField()
    ok = models.BooleanField()
    failing_since = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=120, blank=True, help_text="e.g. 503, ConnectTimeout, test failed: 401")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "system"], name="one_status_per_tenant_system")]
        verbose_name_plural = "connection statuses"

    def __str__(self) -> str:
        return f"{self.system} for tenant {self.tenant_id}: {'ok' if self.ok else self.problem}"
