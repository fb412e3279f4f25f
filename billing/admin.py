"""Admin for Stripe webhooks: endpoints with their write-only secrets and "Roll secret", the
ledger of deliveries with "Replay processing", and the events. Tenant-scoped like every page.

Endpoints and secrets are a finance admin's; the ledger is read by support too, who may
replay. No page renders a secret: the secret column is in no form, list or detail.
"""
from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_object_actions import action

from connector.listing import LargeTableAdmin, ReadOnlyAdminMixin
from tenants.forms import WriteOnlyPasswordInput
from tenants.models import Role
from tenants.scoping import (
    ALL_ROLES,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedInline,
    TenantScopedObjectActions,
    has_role,
)

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from .webhooks.endpoints import active_secrets, webhook_endpoint_url, webhook_secret_roll, webhook_secret_validate
from .webhooks.handoff import QueueRefused, webhook_event_replay

FINANCE = (Role.FINANCE_ADMIN,)


def _pre(text: str):
    return format_html('<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>', text) if text else "-"


def _link(url_name: str, pk, label) -> str:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[pk]), label) if pk else "-"


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=True, widget=WriteOnlyPasswordInput(),
                           help_text=help_text, validators=[lambda value: value and webhook_secret_validate(value)])


class WebhookEndpointForm(forms.ModelForm):
    first_secret = _secret_field("Signing secret", "whsec_… from the endpoint's page in Stripe (optional now: "
                                                   "add it later with Roll secret). Never shown again.")

    class Meta:
        model = WebhookEndpoint
        fields = ("tenant", "description", "enabled", "tolerance_seconds")


class RollSecretForm(forms.Form):
    new_secret = _secret_field("New signing secret", "whsec_… as Stripe shows it after rolling. Never shown again.")
    old_valid_for = forms.TypedChoiceField(
        label="The secrets in use stay valid for", coerce=int, initial=24,
        choices=[(0, "no longer: expire them now"), (1, "1 hour"), (12, "12 hours"), (24, "24 hours"),
                 (72, "3 days")],
        help_text="Stripe signs with both while it switches over; after this only the new secret verifies.")

    def clean_new_secret(self):
        value = self.cleaned_data["new_secret"]
        if not value:
            raise ValidationError("Paste the new secret.")
        return value


class WebhookSecretInline(TenantScopedInline, admin.TabularInline):
    """The secrets of an endpoint, by number and date: the value itself is in no field."""

    model = WebhookSecret
    fields = ("label", "created_at", "created_by", "expires_at", "state")
    readonly_fields = ("label", "created_at", "created_by", "state")
    extra = 0
    can_delete = False
    view_roles = FINANCE

    @admin.display(description="Secret")
    def label(self, obj):
        return f"#{obj.pk}" if obj.pk else "-"

    @admin.display(description="State")
    def state(self, obj):
        return "active" if obj.is_active() else "expired"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is not None and has_role(request.user, obj.tenant_id, FINANCE)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedObjectActions, TenantScopedAdmin):
    form = WebhookEndpointForm
    view_roles = FINANCE
    list_filter = (("tenant", TenantListFilter), "enabled")
    list_select_related = ("tenant",)
    search_fields = ("description", "=uuid")
    inlines = (WebhookSecretInline,)
    change_actions = ("roll_secret",)

    @staticmethod
    def _url_display(request):
        """A column showing the full URL, which needs the request's host: one function per
        request, the same one each time, since the admin matches read-only fields by identity."""
        display = getattr(request, "_stripe_webhook_url_display", None)
        if display is None:
            @admin.display(description="URL to paste into Stripe")
            def stripe_url(obj):
                return webhook_endpoint_url(obj, base_url=request.build_absolute_uri("/")) if obj.pk else "-"
            display = request._stripe_webhook_url_display = stripe_url
        return display

    def get_list_display(self, request):
        return ("__str__", "tenant", self._url_display(request), "enabled", "active_secret_count", "created_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "description", "enabled", "tolerance_seconds", "first_secret")
        return ("tenant", self._url_display(request), "description", "enabled", "tolerance_seconds", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("tenant", self._url_display(request), "created_at")

    @admin.display(description="Active secrets")
    def active_secret_count(self, obj):
        return active_secrets(obj).count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and form.cleaned_data.get("first_secret"):
            webhook_secret_roll(endpoint=obj, new_secret=form.cleaned_data["first_secret"], old_valid_for=None,
                                user=request.user)

    @action(label="Roll secret", description="Add a new signing secret and let the ones in use expire")
    def roll_secret(self, request, obj):
        if not has_role(request.user, obj.tenant_id, FINANCE):
            self.message_user(request, "Only a finance admin of this tenant may change its webhook secrets.",
                              messages.ERROR)
            return None
        form = RollSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            hours = form.cleaned_data["old_valid_for"]
            try:
                secret = webhook_secret_roll(endpoint=obj, new_secret=form.cleaned_data["new_secret"],
                                             old_valid_for=timedelta(hours=hours), user=request.user)
            except ValidationError as exc:
                form.add_error("new_secret", exc)
            else:
                self.log_change(request, obj, f"Secret #{secret.pk} added; the others expire in {hours} h.")
                self.message_user(request, f"Secret #{secret.pk} added. The secrets in use before it "
                                           + (f"stay valid for {hours} hours." if hours else "expired now."),
                                  messages.SUCCESS)
                return None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "endpoint": obj,
                   "title": f"Roll the signing secret of {obj}", "form": form,
                   "url": webhook_endpoint_url(obj, base_url=request.build_absolute_uri("/")),
                   "secrets": active_secrets(obj)}
        return TemplateResponse(request, "admin/billing/webhookendpoint/roll_secret.html", context)

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        endpoint = self.get_queryset(request).filter(pk=object_id).first()
        return actions if endpoint is not None and has_role(request.user, endpoint.tenant_id, FINANCE) else []


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedObjectActions, ReadOnlyAdminMixin, LargeTableAdmin, TenantScopedAdmin):
    """The ledger: every request that reached a webhook URL, as received, and what became of it."""

    list_display = ("received_at", "tenant", "endpoint", "outcome", "status_code", "verified", "event_link",
                    "document_link", "remote_addr", "size")
    list_filter = (("tenant", TenantListFilter), "outcome", "verified", "status_code")
    search_fields = ("=event__stripe_id", "=remote_addr")
    list_select_related = ("tenant", "endpoint", "event")
    list_defer = ("body", "headers", "traceback")  # the list never loads what was received
    change_list_template = LargeTableAdmin.change_list_template  # over the object actions'; it keeps their tools
    fieldsets = (
        (None, {"fields": ("received_at", "tenant", "endpoint", "path", "method", "remote_addr")}),
        ("Outcome", {"fields": ("outcome", "status_code", "verified", "reason", "signed_at", "secret", "event_link",
                                "document_link")}),
        ("As received", {"fields": ("size_view", "headers_view", "body_view")}),
        ("Our failure", {"fields": ("traceback",)}),
    )
    readonly_fields = ("received_at", "tenant", "endpoint", "path", "method", "remote_addr", "outcome", "status_code",
                       "verified", "reason", "signed_at", "secret", "event_link", "document_link", "size_view",
                       "headers_view", "body_view", "traceback")
    change_actions = ("replay_processing",)

    @admin.display(description="Event")
    def event_link(self, obj):
        return _link("admin:billing_webhookevent_change", obj.event_id, obj.event) if obj.event_id else "-"

    @admin.display(description="Document")
    def document_link(self, obj):
        return _link("admin:connector_document_change", obj.event.document_id, "open") if obj.event_id else "-"

    @admin.display(description="Size")
    def size_view(self, obj):
        shown = len(obj.body or b"")
        return f"{obj.size} bytes" + (f" (the first {shown} are kept)" if obj.truncated else "")

    @admin.display(description="Headers")
    def headers_view(self, obj):
        return _pre(json.dumps(obj.headers, indent=2, sort_keys=True))

    @admin.display(description="Body")
    def body_view(self, obj):
        return _pre(bytes(obj.body or b"").decode("utf-8", "replace"))

    def has_replay_permission(self, request, obj=None):
        return has_role(request.user, None if obj is None else obj.tenant_id, ALL_ROLES)

    @action(label="Replay processing", description="Queue the processing of this delivery's event again")
    def replay_processing(self, request, obj):
        if obj.event_id is None or not self.has_replay_permission(request, obj):
            self.message_user(request, "This delivery carries no event you may replay.", messages.ERROR)
            return None
        event = WebhookEvent.objects.select_related("tenant", "document").get(pk=obj.event_id)
        if request.method != "POST" or request.POST.get("confirm") != "yes":
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "delivery": obj,
                       "event": event, "document": event.document, "title": "Replay the processing of an event"}
            return TemplateResponse(request, "admin/billing/webhookdelivery/replay_confirmation.html", context)
        try:
            webhook_event_replay(event=event, user=request.user)
        except QueueRefused as exc:
            self.message_user(request, f"Nothing was queued: the task queue is unavailable ({exc}). "
                                       "Try again in a moment.", messages.ERROR)
            return None
        self.log_change(request, obj, f"Replay of the processing of {event.stripe_id} queued.")
        self.message_user(request, f"Processing of {event.type} {event.stripe_id} queued; its document's page shows "
                                   "the outcome.", messages.SUCCESS)
        return None

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        delivery = self.get_queryset(request).filter(pk=object_id).first()
        ok = delivery is not None and delivery.event_id is not None and self.has_replay_permission(request, delivery)
        return actions if ok else []


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, LargeTableAdmin, TenantScopedAdmin):
    list_display = ("created_at", "tenant", "type", "stripe_id", "object_id", "livemode", "document_link",
                    "queued_at")
    list_filter = (("tenant", TenantListFilter), "type", "livemode", ("queued_at", admin.EmptyFieldListFilter))
    search_fields = ("=stripe_id", "=object_id")
    list_select_related = ("tenant", "document")
    list_defer = ("document__raw", "document__mapped", "document__artifact", "document__external_ids",
                  "document__search_text")
    fields = ("tenant", "endpoint", "stripe_id", "type", "object_id", "livemode", "api_version", "stripe_created",
              "document_link", "created_at", "queued_at")
    readonly_fields = fields

    @admin.display(description="Document")
    def document_link(self, obj):
        return _link("admin:connector_document_change", obj.document_id,
                     f"{obj.document.get_state_display()}" if obj.document_id else "-")


# --- ar-stripe: the tenant's choice of Stripe-billed firms, and the firms' Stripe customers ----

from .ar_stripe.summary import dashboard_url  # noqa: E402 - this block is ar-stripe's own
from .models import StripeBilledClient, StripeBilling, StripeCustomerMapping  # noqa: E402


class StripeBilledClientInline(TenantScopedInline, admin.TabularInline):
    model = StripeBilledClient
    extra = 1
    fields = ("client_id", "name", "currency")
    verbose_name = "client firm billed through Stripe"
    verbose_name_plural = "Client firms billed through Stripe (when only listed firms are billed)"

    def has_add_permission(self, request, obj=None):
        return has_role(request.user, None if obj is None else obj.tenant_id, FINANCE)

    has_change_permission = has_add_permission
    has_delete_permission = has_add_permission


@admin.register(StripeBilling)
class StripeBillingAdmin(TenantScopedAdmin):
    """Which client firms' posted AR invoices the ar-stripe flow sends to Stripe."""

    list_display = ("tenant", "clients", "currency", "days_until_due", "listed_count")
    list_filter = (("tenant", TenantListFilter), "clients")
    fields = ("tenant", "clients", "currency", "days_until_due")
    inlines = (StripeBilledClientInline,)
    deletable = True

    @admin.display(description="Firms listed")
    def listed_count(self, obj):
        return obj.listed.count()

    def get_readonly_fields(self, request, obj=None):
        return ("tenant",) if obj is not None else ()


@admin.register(StripeCustomerMapping)
class StripeCustomerMappingAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Each client firm's Stripe customer, with a link to it in Stripe's dashboard. Deleting a
    mapping makes the next invoice of the firm search Stripe (and create) again."""

    list_display = ("client_name", "client_id", "tenant", "customer_link", "livemode", "synced_at")
    list_filter = (("tenant", TenantListFilter), "livemode")
    search_fields = ("client_name", "client_id", "customer_id")
    fields = ("tenant", "client_name", "client_id", "customer_link", "livemode", "details_hash", "created_at",
              "synced_at")
    readonly_fields = fields
    deletable = True

    @admin.display(description="Stripe customer", ordering="customer_id")
    def customer_link(self, obj):
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>',
                           dashboard_url("customers", obj.customer_id, livemode=obj.livemode), obj.customer_id)

    def has_delete_permission(self, request, obj=None):
        return has_role(request.user, None if obj is None else obj.tenant_id, FINANCE)
