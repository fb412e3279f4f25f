"""Admin for the engine: documents (with replay behind a confirmation page, queued for the
workers, never run inside the request), read-only attempts, effects, audit events and sync
runs. Every page is tenant-scoped."""
from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django_object_actions import action

from tenants.models import Role
from tenants.scoping import (
    ALL_ROLES,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedInline,
    TenantScopedObjectActions,
    has_role,
    tenant_ids_for,
)

from .admin_ignore import document_ignore_view, document_unignore_view
from .documents import IGNORABLE, audit_record
from .flows import flow_choices, flow_of
from .models import Attempt, AuditEvent, Document, DocumentState, Effect, SyncCursor, SyncRun
from .replay import REPLAYABLE, documents_replay_queue, failed_documents_since, replay_outcome

REPLAY_SINCE_LIMIT = 5000


def _pre(text: str):
    return format_html('<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>', text) if text else "-"


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL an unfiltered list of a large table takes the planner's estimate
    instead of counting every row; filtered lists (and small tables) count exactly."""

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if connection.vendor == "postgresql" and hasattr(qs, "query") and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [qs.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > self.ESTIMATE_ABOVE:
                return int(row[0])
        return super().count


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AttemptInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = Attempt
    extra = 0
    fields = ("started_at", "step", "trigger", "user", "succeeded", "failure_kind", "error", "duration_ms", "calls")
    readonly_fields = fields
    ordering = ("-started_at",)
    show_change_link = True


class EffectInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = Effect
    extra = 0
    fields = ("step", "name", "state", "key", "calls", "confirmed_by", "result", "error", "updated_at")
    readonly_fields = fields
    verbose_name_plural = "Outside effects"


class AuditEventInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = AuditEvent
    extra = 0
    fields = ("at", "actor", "action", "from_state", "to_state", "reason")
    readonly_fields = fields
    ordering = ("-at",)


def _documents_named(documents: list[Document]) -> str:
    names = ", ".join(d.external_key for d in documents[:5])
    return names + (f" and {len(documents) - 5} more" if len(documents) > 5 else "")


def replay_with_confirmation(modeladmin, request, queryset, *, title: str):
    """Show what will be replayed; on confirmation queue a replay of each (the workers run
    them), write the admin log and say what was queued. Each document's page shows how its
    replay ended."""
    documents = [d for d in queryset.select_related("tenant")
                 if has_role(request.user, d.tenant_id, ALL_ROLES)]
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": title, "documents": documents, "opts": modeladmin.model._meta,
            "action": request.POST.get("action", ""), "selected": [d.pk for d in documents],
            "back_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/connector/document/replay_confirmation.html", context)
    queued, refused = documents_replay_queue(documents, user=request.user)
    for document in queued:
        modeladmin.log_change(request, document, f"Replay queued (to resume at step '{document.step}').")
    if queued:
        modeladmin.message_user(request, f"Queued a replay of {len(queued)} document{'s' if len(queued) != 1 else ''} "
                                         f"({_documents_named(queued)}); each document's page shows how it ends.",
                                messages.INFO)
    for reason in refused:
        modeladmin.message_user(request, f"Not replayed: {reason}", messages.WARNING)
    return None


class ReplaySinceForm(forms.Form):
    since = forms.DateTimeField(help_text="YYYY-MM-DD HH:MM (UTC)")
    flow = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["flow"].choices = [("", "every flow"), *flow_choices()]


def replay_failures_since_view(modeladmin, request):
    """A form (since when, which flow), a confirmation page with the count, then one queued
    replay per document; each document is written to the admin log."""
    form = ReplaySinceForm(request.POST or None)
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta,
               "title": "Replay failures since…", "form": form}
    if request.method == "POST" and form.is_valid():
        documents = failed_documents_since(tenant_ids=tenant_ids_for(request.user), since=form.cleaned_data["since"],
                                           flow=form.cleaned_data["flow"] or None)
        ids = list(documents.order_by("pk").values_list("pk", flat=True)[:REPLAY_SINCE_LIMIT])
        if request.POST.get("confirm") == "yes" and ids:
            chosen = Document.objects.filter(pk__in=ids)
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=chosen, action_flag=CHANGE,
                change_message=f"Replay queued (failures since {form.cleaned_data['since']:%Y-%m-%d %H:%M}).",
                single_object=False,
            )
            queued, refused = documents_replay_queue(list(chosen.select_related("tenant").order_by("pk")),
                                                     user=request.user)
            modeladmin.message_user(request, f"Queued a replay of {len(queued)} document{'s' if len(queued) != 1 else ''}"
                                             f" ({_documents_named(queued)}); their pages show how each ends.",
                                    messages.INFO)
            if refused:
                modeladmin.message_user(request, f"{len(refused)} not queued: {refused[0]}", messages.WARNING)
            return redirect("admin:connector_document_changelist")
        context.update(documents=documents.select_related("tenant")[:50], count=len(ids), confirming=True,
                       limit=REPLAY_SINCE_LIMIT)
    return TemplateResponse(request, "admin/connector/document/replay_since.html", context)


@admin.register(Document)
class DocumentAdmin(TenantScopedObjectActions, TenantScopedAdmin):
    list_display = ("external_key", "tenant", "flow", "state", "step", "failure_kind", "updated_at")
    list_filter = (("tenant", TenantListFilter), "flow", "state", "failure_kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=external_key", "^artifact_name")
    list_select_related = ("tenant",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    date_hierarchy = None
    inlines = (AttemptInline, EffectInline, AuditEventInline)
    readonly_fields = ("tenant", "flow", "external_key", "state", "step", "source", "replay_view", "failure_kind",
                       "last_error", "retry_count", "next_attempt_at", "artifact_name", "external_ids", "mapped_view",
                       "raw_view", "artifact_view", "links_view", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("tenant", "flow", "external_key", "state", "step", "source", "replay_view")}),
        ("Failure", {"fields": ("failure_kind", "last_error", "retry_count", "next_attempt_at")}),
        ("Content", {"fields": ("links_view", "artifact_name", "external_ids", "artifact_view", "mapped_view",
                                "raw_view")}),
        ("Times", {"fields": ("created_at", "updated_at")}),
    )
    actions = ("replay_selected",)
    change_actions = ("replay", "ignore", "unignore")
    changelist_actions = ("replay_failures_since",)
    edit_roles = (Role.FINANCE_ADMIN, Role.SUPPORT)

    @admin.display(description="Produced")
    def artifact_view(self, obj):
        try:
            flow = flow_of(obj)
        except KeyError:
            flow = None
        text = flow.show_artifact(obj) if flow and flow.show_artifact and obj.artifact else obj.artifact
        return _pre(text)

    @admin.display(description="What to do")
    def links_view(self, obj):
        try:
            flow = flow_of(obj)
        except KeyError:
            return "-"
        links = flow.document_links(obj) if flow.document_links else []
        if not links:
            return "-"
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', ((url, label) for label, url in links))

    @admin.display(description="Last replay")
    def replay_view(self, obj):
        return replay_outcome(obj) or "-"

    @admin.display(description="Mapped")
    def mapped_view(self, obj):
        return _pre(json.dumps(obj.mapped, indent=2, sort_keys=True, default=str) if obj.mapped else "")

    @admin.display(description="Raw input as received")
    def raw_view(self, obj):
        return _pre(obj.raw)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Documents are never edited by hand; replay is the one thing a human does to them.
        return False

    def has_replay_permission(self, request, obj=None):
        return has_role(request.user, None if obj is None else obj.tenant_id, ALL_ROLES)

    @admin.action(description="Replay selected documents", permissions=["replay"])
    def replay_selected(self, request, queryset):
        return replay_with_confirmation(self, request, queryset, title="Replay documents")

    @action(label="Replay", description="Resume this document at the step that failed")
    def replay(self, request, obj):
        if not self.has_replay_permission(request, obj):
            self.message_user(request, "You may not replay this document.", messages.ERROR)
            return None
        # GET shows the confirmation page; its POST replays and returns to the document.
        return replay_with_confirmation(self, request, Document.objects.filter(pk=obj.pk), title="Replay document")

    def has_ignore_permission(self, request, obj=None):
        """Support and finance admins of the document's tenant, as for replay."""
        return self.has_replay_permission(request, obj)

    @action(label="Ignore…", description="Set this document aside, with a reason")
    def ignore(self, request, obj):
        if not self.has_ignore_permission(request, obj):
            raise PermissionDenied
        return document_ignore_view(self, request, obj)

    @action(label="Undo ignore", description="Give this document back the state it was ignored from")
    def unignore(self, request, obj):
        if not self.has_ignore_permission(request, obj):
            raise PermissionDenied
        return document_unignore_view(self, request, obj)

    @action(label="Replay failures since…", description="Replay every failed or retrying document since a time")
    def replay_failures_since(self, request, queryset):
        return replay_failures_since_view(self, request)

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        document = self.scoped_object(request, object_id)
        if document is None or not self.has_replay_permission(request, document):
            return []
        offered = {"replay": document.state in REPLAYABLE and bool(document.step),
                   "ignore": document.state in IGNORABLE, "unignore": document.state == DocumentState.IGNORED}
        return [name for name in actions if offered.get(name, True)]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    tenant_path = "document__tenant_id"
    list_display = ("document", "step", "trigger", "user", "succeeded", "failure_kind", "started_at", "duration_ms")
    list_filter = ("succeeded", "failure_kind", "trigger", "step")
    search_fields = ("=document__external_key",)
    list_select_related = ("document", "user")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("at", "tenant", "document", "actor", "action", "from_state", "to_state", "reason")
    list_filter = (("tenant", TenantListFilter), "action", "actor")
    search_fields = ("=document__external_key", "=actor")
    list_select_related = ("tenant", "document")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("started_at", "tenant", "flow", "trigger", "status", "counts", "cursor_before", "cursor_after")
    list_filter = (("tenant", TenantListFilter), "flow", "status", "trigger")
    list_select_related = ("tenant",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(SyncCursor)
class SyncCursorAdmin(TenantScopedAdmin):
    """Where each stream resumes. A finance admin sets the start point before the first
    cycle (e.g. only invoices posted from this month on) or moves it to re-read a window."""

    list_display = ("tenant", "stream", "value", "updated_at")
    list_filter = (("tenant", TenantListFilter), "stream")
    fields = ("tenant", "stream", "value")
    deletable = True

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "stream") if obj else ()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(tenant=obj.tenant, user=request.user, action="cursor_set",
                     reason=f"{obj.stream} set to {obj.value or '(start)'}")
