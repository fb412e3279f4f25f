"""Admin for alerts (settings, silence rules, every alert and every notice sent) and
retention policies. Triage pages are in console/triage_admin.py. All tenant-scoped:
finance admins set things, support reads."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.html import format_html

from connector.flows import flow_choices
from connector.listing import ReadOnlyAdminMixin as ReadOnly
from tenants.forms import ConnectionForm
from tenants.models import Role
from tenants.scoping import ALL_ROLES, TenantListFilter, TenantScopedAdmin, TenantScopedInline, has_role

from . import triage_admin  # noqa: F401  (registers the triage pages)
from .models import Alert, AlertDelivery, AlertSettings, RetentionPolicy, SilenceRule
from .zones import local_time


class SilenceRuleForm(forms.ModelForm):
    flow = forms.ChoiceField(choices=())

    class Meta:
        model = SilenceRule
        fields = ("flow", "minutes_without_success", "hours_without_documents")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].choices = flow_choices()


class SilenceRuleInline(admin.TabularInline):
    model = SilenceRule
    form = SilenceRuleForm
    extra = 0
    verbose_name = "silence rule"

    def has_view_permission(self, request, obj=None):
        return has_role(request.user, obj.tenant_id if obj is not None else None, ALL_ROLES)

    def has_change_permission(self, request, obj=None):
        return has_role(request.user, obj.tenant_id if obj is not None else None, (Role.FINANCE_ADMIN,))

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


class AlertSettingsForm(ConnectionForm):
    """The webhook URL carries its chat tool's secret: write-only, like a connection's password."""

    class Meta:
        model = AlertSettings
        fields = ("tenant", "enabled", "email_recipients", "webhook_url", "growth_threshold", "throttle_minutes",
                  "max_notices_per_hour")

    def clean_email_recipients(self):
        value = self.cleaned_data.get("email_recipients", "")
        bad = []
        for address in AlertSettings(email_recipients=value).recipients():
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(f"Not an email address: {', '.join(bad)}")
        return value

    def clean_webhook_url(self):
        value = self.cleaned_data.get("webhook_url", "")
        if value and not value.startswith(("https://", "http://")):
            raise ValidationError("A webhook URL starts with https://")
        return value


@admin.register(AlertSettings)
class AlertSettingsAdmin(TenantScopedAdmin):
    form = AlertSettingsForm
    list_display = ("tenant", "enabled", "email_recipients", "has_webhook", "growth_threshold", "throttle_minutes")
    list_select_related = ("tenant",)
    deletable = True

    @admin.display(description="Webhook", boolean=True)
    def has_webhook(self, obj: AlertSettings) -> bool:
        return bool(obj.webhook_url)

    inlines = (SilenceRuleInline,)

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj else ()


class DeliveryInline(TenantScopedInline, ReadOnly, admin.TabularInline):
    model = AlertDelivery
    extra = 0
    fields = ("sent_at", "notice", "channel", "recipients", "ok", "error")
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(ReadOnly, TenantScopedAdmin):
    list_display = ("title", "tenant", "kind", "status", "opened", "resolved", "sent")
    list_filter = ("status", "kind", ("tenant", TenantListFilter))
    list_select_related = ("tenant",)
    fields = ("tenant", "kind", "title", "body", "flow", "group", "status", "opened", "resolved", "notified", "throttled")
    readonly_fields = fields
    inlines = (DeliveryInline,)

    @admin.display(description="Opened", ordering="opened_at")
    def opened(self, obj: Alert) -> str:
        return local_time(obj.opened_at, obj.tenant.time_zone)

    @admin.display(description="Resolved", ordering="resolved_at")
    def resolved(self, obj: Alert) -> str:
        return local_time(obj.resolved_at, obj.tenant.time_zone) if obj.resolved_at else "-"

    @admin.display(description="Sent")
    def sent(self, obj: Alert):
        if obj.throttled:
            return format_html('<span title="{}">throttled</span>', "listed here, not sent")
        return "yes" if obj.notified else "no"


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnly, TenantScopedAdmin):
    """Every alert sent, on each channel."""

    tenant_path = "alert__tenant_id"
    list_display = ("sent", "tenant", "notice", "channel", "recipients", "subject", "ok")
    list_filter = ("ok", "channel", "notice")
    list_select_related = ("alert__tenant",)

    @admin.display(description="Sent at", ordering="sent_at")
    def sent(self, obj: AlertDelivery) -> str:
        return local_time(obj.sent_at, obj.alert.tenant.time_zone)

    @admin.display(description="Tenant")
    def tenant(self, obj: AlertDelivery) -> str:
        return str(obj.alert.tenant)


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ("tenant", "finished_payload_days", "failed_payload_days", "attempt_days", "sync_run_days")

    def clean(self):
        cleaned = super().clean()
        finished, failed = cleaned.get("finished_payload_days"), cleaned.get("failed_payload_days")
        if finished is not None and failed is not None and failed < finished:
            raise ValidationError({"failed_payload_days": "Failures are kept at least as long as finished documents."})
        return cleaned


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedAdmin):
    form = RetentionPolicyForm
    list_display = ("tenant", "finished_payload_days", "failed_payload_days", "attempt_days", "sync_run_days")
    list_select_related = ("tenant",)
    deletable = True

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj else ()
