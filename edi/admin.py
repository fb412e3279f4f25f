"""Admin for trading partners (with the client firms they bill), mapping overrides and the
ledger of files picked up from Cleo. Tenant-scoped like every page."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from connector.clients import vantagepoint_client
from connector.failures import IntegrationFailure
from tenants.scoping import TenantListFilter, TenantScopedAdmin, TenantScopedInline

from .inbound.resolve import RecordCheck
from .models import InboundFile, MappingKind, MappingOverride, PartnerClient, TradingPartner


class PartnerClientInline(TenantScopedInline, admin.TabularInline):
    model = PartnerClient
    extra = 1
    fields = ("client_id", "name")

    def has_add_permission(self, request, obj=None):
        return obj is not None and self.has_view_permission(request, obj)

    has_change_permission = has_add_permission
    has_delete_permission = has_add_permission


@admin.register(TradingPartner)
class TradingPartnerAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant", "their_isa_qualifier", "their_isa_id", "x12_version", "production", "enabled")
    list_filter = (("tenant", TenantListFilter), "x12_version", "production", "enabled")
    search_fields = ("name", "their_isa_id")
    inlines = (PartnerClientInline,)
    deletable = True
    readonly_fields = ("last_interchange_control", "last_group_control", "last_set_control")
    fieldsets = (
        (None, {"fields": ("tenant", "name", "enabled")}),
        ("Envelope", {"fields": (("our_isa_qualifier", "our_isa_id"), ("their_isa_qualifier", "their_isa_id"),
                                 ("our_gs_id", "their_gs_id"), "x12_version", "production",
                                 ("element_separator", "component_separator", "segment_terminator",
                                  "repetition_separator"))}),
        ("Cleo folders", {"fields": ("outbound_folder", "inbound_folder", "after_pickup", "archive_folder")}),
        ("Outbound 810", {"fields": ("project_ref_qualifier", "credit_memo_style", "write_ctt")}),
        ("Inbound 810", {"fields": ("default_vendor", "default_account")}),
        ("Control numbers", {"fields": ("last_interchange_control", "last_group_control", "last_set_control")}),
    )

    def save_formset(self, request, form, formset, change):
        # A client firm belongs to the partner's tenant; the inline does not ask for it.
        for instance in formset.save(commit=False):
            instance.tenant_id = form.instance.tenant_id
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()


class MappingOverrideForm(forms.ModelForm):
    """An override is only as good as its target: it is checked in the tenant's Vantagepoint
    before it is saved, so a parked invoice replayed after it cannot park again on a typo."""

    class Meta:
        model = MappingOverride
        fields = ("tenant", "kind", "source_value", "target", "target_wbs2", "target_wbs3", "note")

    def clean(self):
        cleaned = super().clean()
        for name in ("source_value", "target", "target_wbs2", "target_wbs3"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = cleaned[name].strip()
        tenant, kind, target = cleaned.get("tenant"), cleaned.get("kind"), cleaned.get("target")
        wbs2, wbs3 = cleaned.get("target_wbs2") or "", cleaned.get("target_wbs3") or ""
        if kind != MappingKind.PROJECT and (wbs2 or wbs3):
            self.add_error("target_wbs2", "Only a project mapping names a phase and task.")
        if self.errors or not (tenant and kind and target):
            return cleaned
        try:
            with vantagepoint_client(tenant) as vp:
                problem = RecordCheck(vp).target_problem(kind=kind, target=target, wbs2=wbs2, wbs3=wbs3)
        except IntegrationFailure as exc:
            raise forms.ValidationError(
                f"Vantagepoint could not be reached to check the target, so nothing was saved: {exc}") from exc
        if problem:
            self.add_error("target", f"Vantagepoint says: {problem}.")
        return cleaned


@admin.register(MappingOverride)
class MappingOverrideAdmin(TenantScopedAdmin):
    """Reached from a parked document's page with the form pre-filled from the query string
    (?tenant=&kind=&source_value=), as Django's add view does for any field."""

    form = MappingOverrideForm
    list_display = ("kind", "source_value", "target", "target_wbs2", "target_wbs3", "tenant", "note")
    list_filter = (("tenant", TenantListFilter), "kind")
    search_fields = ("source_value", "target")
    deletable = True


@admin.register(InboundFile)
class InboundFileAdmin(TenantScopedAdmin):
    """The ledger; each file's stages (our 997, the pickup), attempts and replay are on its
    cleo-inbox document, linked from here."""

    list_display = ("name", "folder", "tenant", "partner", "status", "size", "received_at", "stage")
    list_filter = (("tenant", TenantListFilter), "status")
    search_fields = ("=name", "=content_hash", "=cleo_file_id")
    list_select_related = ("document", "partner", "tenant")
    show_full_result_count = False
    exclude = ("raw",)
    readonly_fields = ("tenant", "partner", "folder", "name", "cleo_file_id", "content_hash", "size", "status", "note",
                       "same_as", "document_link", "received_at", "raw_text")

    @admin.display(description="Stage")
    def stage(self, obj):
        document = obj.document
        if document is None:
            return "-"
        return document.get_state_display() + (f" (next: {document.step})" if document.step else "")

    @admin.display(description="Its stages, our 997 and replay")
    def document_link(self, obj):
        if obj.document_id is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:connector_document_change", args=[obj.document_id]),
                           obj.document)

    @admin.display(description="Content as received")
    def raw_text(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", bytes(obj.raw).decode("utf-8", "replace"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
