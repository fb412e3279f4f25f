"""Admin for trading partners (with the client firms they bill), mapping overrides and the
ledger of files picked up from Cleo. Tenant-scoped like every page."""
from __future__ import annotations

from django.contrib import admin

from tenants.scoping import TenantListFilter, TenantScopedAdmin, TenantScopedInline

from .models import InboundFile, MappingOverride, PartnerClient, TradingPartner


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


@admin.register(MappingOverride)
class MappingOverrideAdmin(TenantScopedAdmin):
    list_display = ("kind", "source_value", "target", "target_wbs2", "target_wbs3", "tenant", "note")
    list_filter = (("tenant", TenantListFilter), "kind")
    search_fields = ("source_value", "target")
    deletable = True


@admin.register(InboundFile)
class InboundFileAdmin(TenantScopedAdmin):
    list_display = ("name", "folder", "tenant", "partner", "status", "size", "received_at", "picked_up")
    list_filter = (("tenant", TenantListFilter), "status", "picked_up")
    search_fields = ("=name", "=content_hash")
    show_full_result_count = False
    exclude = ("raw",)
    readonly_fields = ("tenant", "partner", "folder", "name", "content_hash", "size", "cleo_file_id", "status", "note",
                       "same_as", "ack_file_name", "ack_text", "ack_uploaded", "picked_up", "received_at", "raw_text")

    @admin.display(description="Content as received")
    def raw_text(self, obj):
        from django.utils.html import format_html

        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", bytes(obj.raw).decode("utf-8", "replace"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
