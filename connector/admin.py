"""Admin for the engine: documents (with replay behind a confirmation page, queued for the
workers, never run inside the request; ignore with a reason), read-only attempts, effects and
audit events, sync cursors; schedules and sync runs are in admin_schedules.py,
the document pages' columns and fields in admin_documents.py. Every page is tenant-scoped,
and every list of a big table is built to stay fast at millions of rows (listing.py)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django_object_actions import action

from tenants.models import Role
from tenants.scoping import (
    ALL_ROLES,
    TenantListFilter,
    TenantScopedAdmin,
    TenantScopedObjectActions,
    has_role,
    tenant_ids_for,
)

from . import admin_schedules  # noqa: F401  (registers schedules, sync runs; beat's pages for superusers)
from .admin_documents import DOCUMENT_PAYLOAD_OF_JOINED, DocumentPagesMixin
from .admin_ignore import document_action_view, document_ignore_view, document_unignore_view
from .display import calls_table, pre, tenant_time_column
from .documents import IGNORABLE, audit_record
from .failures import FailureKind
from .flows import all_flows, flow_choices, get_flow
from .listing import ActorFilter, AuditActionFilter, FlowFilter, LargeTableAdmin, ReadOnlyAdminMixin
from .models import Attempt, AuditEvent, Document, DocumentState, SyncCursor
from .replay import REPLAYABLE, documents_replay_queue, failed_documents_since
from .search import documents_matching, search_read, search_too_broad

REPLAY_SINCE_LIMIT = 5000
# A search of attempts or audit events looks at the events of this many matching documents
# (the newest): enough to find what someone is after, bounded at any size.
SEARCH_DOCUMENTS_UP_TO = 200


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
class DocumentAdmin(TenantScopedObjectActions, DocumentPagesMixin, LargeTableAdmin, TenantScopedAdmin):
    list_filter = (("tenant", TenantListFilter), FlowFilter, "state", "failure_kind",
                   ("created_at", admin.DateFieldListFilter))
    date_hierarchy = None
    change_list_template = LargeTableAdmin.change_list_template  # over the object actions'; it keeps their tools
    actions = ("replay_selected",)
    change_actions = ("replay", "ignore", "unignore")
    changelist_actions = ("replay_failures_since",)
    edit_roles = (Role.FINANCE_ADMIN, Role.SUPPORT)

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

    @action(label="Replay failures since…", description="Replay every failed or retrying document since a time")
    def replay_failures_since(self, request, queryset):
        return replay_failures_since_view(self, request)

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

    def get_urls(self):
        do = path("<path:object_id>/do/<str:name>/", self.admin_site.admin_view(self.flow_action_view),
                  name="connector_document_flow_action")
        return [do, *super().get_urls()]

    def flow_action_view(self, request, object_id, name):
        """A flow's own action on one document (connector.flows.DocumentAction), for the roles
        that may replay; an unknown document, action or one not offered now is a 404."""
        document = self.scoped_object(request, object_id)
        if document is None:
            raise Http404(f"No document with id {object_id!r}.")
        try:
            action = get_flow(document.flow).action(name)
        except KeyError:
            action = None
        if action is None or not action.offered(document):
            raise Http404(f"No action {name!r} for {document} now.")
        if not self.has_replay_permission(request, document):
            raise PermissionDenied
        back = redirect("admin:connector_document_change", document.pk)
        return document_action_view(self, request, document, action) or back

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        document = self.scoped_object(request, object_id)
        if document is None or not self.has_replay_permission(request, document):
            return []
        offered = {"replay": document.state in REPLAYABLE and bool(document.step),
                   "ignore": document.state in IGNORABLE, "unignore": document.state == DocumentState.IGNORED}
        return [name for name in actions if offered.get(name, True)]


def _documents_searched(request, term: str) -> list[int]:
    """The newest documents matching `term` among the user's tenants (for searches of their
    attempts and audit events); none when the search already ran out (search_too_broad)."""
    if search_too_broad(request):
        return []
    matching = documents_matching(Document.objects.all(), term, tenant_ids_for(request.user)).order_by(
        "-created_at", "-id")
    return search_read(matching, lambda: list(matching.values_list("pk", flat=True)[:SEARCH_DOCUMENTS_UP_TO]))


def _document_link(document: Document | None):
    if document is None:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse("admin:connector_document_change", args=[document.pk]),
                       document.reference or document.external_key)


class StepFilter(admin.SimpleListFilter):
    """Steps of every flow, from the registry."""

    title = "step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        steps: list[str] = []
        for flow in all_flows():
            steps.extend(name for name in flow.step_names() if name not in steps)
        return [(step, step) for step in steps]

    def queryset(self, request, queryset):
        return queryset.filter(step=self.value()) if self.value() else queryset


class FailureKindFilter(admin.SimpleListFilter):
    """The failure kinds the engine knows (an attempt's column has no choices of its own)."""

    title = "failure kind"
    parameter_name = "failure_kind"

    def lookups(self, request, model_admin):
        return [(kind.value, kind.value) for kind in FailureKind]

    def queryset(self, request, queryset):
        return queryset.filter(failure_kind=self.value()) if self.value() else queryset


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdminMixin, LargeTableAdmin, TenantScopedAdmin):
    tenant_path = "document__tenant_id"
    list_display = ("started_col", "document_col", "step", "trigger", "user", "succeeded", "failure_kind", "duration_ms")
    list_filter = ("succeeded", FailureKindFilter, "trigger", StepFilter)
    search_fields = ("document__search_text",)  # shows the box; get_search_results does the work
    search_help_text = "Any part of the document's invoice number, client or vendor, file name or external id."
    list_select_related = ("document__tenant", "user")
    list_defer = ("calls", "traceback", *DOCUMENT_PAYLOAD_OF_JOINED)
    readonly_fields = ("document_col", "step", "trigger", "user", "started_full", "duration_ms", "succeeded",
                       "failure_kind", "error", "calls_view", "traceback_view")
    fields = readonly_fields

    started_col = tenant_time_column("started_at", "Started", tenant="document.tenant", seconds=False,
                                     ordering="started_at")

    started_full = tenant_time_column("started_at", "Started", tenant="document.tenant")

    @admin.display(description="Document")
    def document_col(self, obj):
        return _document_link(obj.document)

    @admin.display(description="HTTP calls")
    def calls_view(self, obj):
        return calls_table(obj.calls)

    @admin.display(description="Traceback")
    def traceback_view(self, obj):
        return pre(obj.traceback)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(document_id__in=_documents_searched(request, search_term)), False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, LargeTableAdmin, TenantScopedAdmin):
    list_display = ("at_col", "tenant", "document_col", "actor", "action", "change_col", "reason_col")
    list_filter = (("tenant", TenantListFilter), AuditActionFilter, ActorFilter)
    search_fields = ("actor",)  # shows the box; get_search_results does the work
    search_help_text = "A user name, or any part of a document's invoice number, client or vendor, file name or id."
    list_select_related = ("tenant", "document")
    list_defer = DOCUMENT_PAYLOAD_OF_JOINED

    at_col = tenant_time_column("at", "When", ordering="at")

    @admin.display(description="Document")
    def document_col(self, obj):
        return _document_link(obj.document)

    @admin.display(description="Change")
    def change_col(self, obj):
        return f"{obj.from_state or '·'} → {obj.to_state or '·'}" if obj.from_state or obj.to_state else "-"

    @admin.display(description="Reason")
    def reason_col(self, obj):
        return format_html('<span title="{}">{}</span>', obj.reason, obj.reason[:120]) if obj.reason else "-"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        users = list(get_user_model().objects.filter(username__iexact=term).values_list("pk", flat=True))
        return queryset.filter(Q(document_id__in=_documents_searched(request, term)) | Q(user_id__in=users)), False


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
