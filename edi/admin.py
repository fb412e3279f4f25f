"""Admin for trading partners (with the client firms they bill), mapping overrides and the
ledger of files picked up from Cleo. Tenant-scoped like every page."""
from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from connector.clients import vantagepoint_client
from connector.display import EMPTY, pre, tenant_time_column
from connector.failures import IntegrationFailure
from connector.listing import LargeTableAdmin
from console.replays import mapping_saved_replay
from tenants.scoping import TenantListFilter, TenantScopedAdmin, TenantScopedInline

from .display import x12_segment_lines
from .inbound.resolve import RecordCheck
from .links import invoices_answered_by, invoices_in_file
from .models import InboundFile, MappingKind, MappingOverride, PartnerClient, TradingPartner


# -- a saved mapping replays what waits on it ----------------------------------------------------
def replay_waiting_on(request, *, tenant_id: int, kind: str, values: list[str], what: str) -> None:
    """Replay every document triage found waiting on the mapping just saved (queued when the
    save commits, audited by the console), and say so with a link to each job's progress."""
    replays = mapping_saved_replay(tenant_id=tenant_id, kind=kind, values=values, user=request.user,
                                   because=f"{what} saved by {request.user}")
    for replay in replays:
        messages.success(request, format_html(
            'Replaying the {} document{} waiting on {}: <a href="{}">follow their progress</a>.', replay.total,
            "" if replay.total == 1 else "s", what, reverse("admin:console_groupreplay_change", args=[replay.pk])))


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
        ("Cleo folders", {"fields": ("outbound_folder", "inbound_folder", "after_pickup", "archive_folder",
                                     "max_inbound_bytes")}),
        ("Outbound 810", {"fields": ("project_ref_qualifier", "credit_memo_style", "write_ctt")}),
        ("Inbound 810", {"fields": ("default_vendor", "default_account")}),
        ("Control numbers", {"fields": ("last_interchange_control", "last_group_control", "last_set_control")}),
    )

    def save_formset(self, request, form, formset, change):
        # A client firm belongs to the partner's tenant; the inline does not ask for it.
        for instance in formset.save(commit=False):
            instance.tenant_id = form.instance.tenant_id
            instance.save()
            if isinstance(instance, PartnerClient):
                replay_waiting_on(request, tenant_id=instance.tenant_id, kind="client", values=[instance.client_id],
                                  what=f"client {instance.name or instance.client_id} billed through {form.instance}")
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        replay_waiting_on(request, tenant_id=obj.tenant_id, kind=obj.kind, values=[obj.source_value],
                          what=f"{obj.kind} mapping {obj.source_value} → {obj.target}")


@admin.register(InboundFile)
class InboundFileAdmin(LargeTableAdmin, TenantScopedAdmin):
    """The ledger of partners' files: the file and our 997 one segment per line with a
    download of their exact bytes, the invoices (or, for a 997, our 810s) it carried, and its
    cleo-inbox document, which holds its stages (download, read, our 997, pickup), attempts,
    effects and replay."""

    list_display = ("name", "folder", "tenant", "partner", "status", "size", "received", "stage")
    list_filter = (("tenant", TenantListFilter), "status")
    list_select_related = ("tenant", "partner", "document")
    search_fields = ("=name", "=content_hash", "=cleo_file_id")
    # The list never loads the files' bytes, nor its document's payloads.
    list_defer = ("raw", "document__raw", "document__mapped", "document__artifact", "document__external_ids",
                  "document__search_text")
    exclude = ("raw",)
    readonly_fields = ("tenant", "partner", "folder", "name", "content_hash", "size", "cleo_file_id", "status", "note",
                       "same_as", "received", "stage", "document_link", "documents_view", "raw_text", "ack_view")
    fieldsets = (
        (None, {"fields": ("tenant", "partner", "folder", "name", "status", "note", "received", "stage",
                           "document_link", "same_as")}),
        ("What it carried", {"fields": ("documents_view",)}),
        ("Content as received", {"fields": ("raw_text", "size", "content_hash", "cleo_file_id")}),
        ("Our 997 back", {"fields": ("ack_view",)}),
    )

    received = tenant_time_column("received_at", "Received", ordering="received_at")

    @admin.display(description="Stage")
    def stage(self, obj):
        document = obj.document
        if document is None:
            return EMPTY
        return document.get_state_display() + (f" (next: {document.step})" if document.step else "")

    @admin.display(description="Its stages, attempts and replay")
    def document_link(self, obj):
        if obj.document_id is None:
            return EMPTY
        return format_html('<a href="{}">{}</a>', reverse("admin:connector_document_change", args=[obj.document_id]),
                           obj.document)

    @admin.display(description="Content as received")
    def raw_text(self, obj):
        text = bytes(obj.raw).decode("utf-8", "replace")
        return format_html("{}{}", _download_button(obj, "raw", "the file as received"), pre(x12_segment_lines(text)))

    @admin.display(description="Our 997")
    def ack_view(self, obj):
        document = obj.document
        if document is None or not document.artifact:
            return EMPTY
        return format_html('<span id="our-997"></span>{}{}', _download_button(obj, "ack", "our 997"),
                           pre(x12_segment_lines(document.artifact)))

    @admin.display(description="Documents")
    def documents_view(self, obj):
        documents = list(invoices_in_file(obj)[:500]) or invoices_answered_by(obj)
        if not documents:
            return EMPTY
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (format_html('<a href="{}">{}</a>', reverse("admin:connector_document_change", args=[d.pk]),
                         d.reference or d.external_key),
             d.flow, d.counterparty or EMPTY, d.get_state_display()) for d in documents))
        return format_html('<table class="mlc-data"><thead><tr><th>invoice</th><th>flow</th><th>client or vendor'
                           '</th><th>state</th></tr></thead><tbody>{}</tbody></table>', rows)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        download = path("<path:object_id>/download/<str:part>/", self.admin_site.admin_view(self.download_view),
                        name="edi_inboundfile_download")
        return [download, *super().get_urls()]

    def download_view(self, request, object_id, part):
        """The exact bytes: the file as Cleo gave it, or our 997 as we uploaded it."""
        entry = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if entry is None or part not in ("raw", "ack") or not self.has_view_permission(request, entry):
            raise Http404(f"Nothing to download for file {object_id!r}.")
        if part == "raw":
            content, name = bytes(entry.raw), entry.name
        else:
            document = entry.document
            if document is None or not document.artifact:
                raise Http404(f"No 997 was made for file {object_id!r}.")
            content, name = document.artifact.encode(), document.artifact_name or f"997-{entry.name}"
        response = HttpResponse(content, content_type="application/edi-x12")
        response["Content-Disposition"] = f'attachment; filename="{re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:180]}"'
        return response


def _download_button(entry: InboundFile, part: str, what: str) -> str:
    url = reverse("admin:edi_inboundfile_download", args=[entry.pk, part])
    return format_html('<p><a class="button" href="{}" download>Download {}</a></p>', url, what)
