"""The document pages as people read them: list columns from the business, times in the
tenant's zone, the produced file one segment per line with a download of its exact bytes,
structured values as tables, and the records a document is linked to.

`DocumentPagesMixin` holds the columns, fields and the download view; connector/admin.py
puts it on DocumentAdmin with the replay actions. Nothing here queries per row: the list
reads the summary columns and the tenant joined to them.
"""
from __future__ import annotations

import re

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from tenants.scoping import TenantScopedInline

from .display import EMPTY, age, calls_table, data_table, money, pre, tenant_time_column
from .flows import Flow, get_flow
from .listing import ReadOnlyAdminMixin
from .models import Attempt, AuditEvent, Document, DocumentState, Effect
from .replay import replay_outcome
from .search import MIN_PARTIAL, documents_matching, search_too_broad, too_short

# States whose last error is the reason the document waits (shown in the list).
WAITING_STATES = (DocumentState.FAILED, DocumentState.NEEDS_MAPPING, DocumentState.RETRYING, DocumentState.REJECTED)
DOWNLOADABLE = {"artifact": "what it produced", "raw": "the input as received"}
DOCUMENT_PAYLOAD_OF_JOINED = ("document__raw", "document__mapped", "document__artifact", "document__external_ids",
                              "document__search_text")


def _flow(document: Document) -> Flow | None:
    try:
        return get_flow(document.flow)
    except KeyError:
        return None


def state_badge(state: str, label: str) -> str:
    return format_html('<span class="mlc-state mlc-state-{}">{}</span>', state, label)


def document_state_badges(document: Document) -> str:
    """The state, and "changed in source" when the record changed after the document went out."""
    badge = state_badge(document.state, document.get_state_display())
    if document.source_changed_at is None:
        return badge
    return format_html('{}<span class="mlc-source-changed" title="Changed in its source system on {} UTC, after '
                       'it went out; not sent again">changed in source</span>', badge,
                       f"{document.source_changed_at:%Y-%m-%d %H:%M}")


def download_name(document: Document, part: str, content: str) -> str:
    if part == "artifact" and document.artifact_name:
        name = document.artifact_name
    else:
        ext = ".edi" if content.startswith("ISA") else ".json" if content[:1] in "{[" else ".txt"
        name = f"{document.flow}-{document.reference or document.external_key}-{part}{ext}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:180]


def download_type(content: str) -> str:
    if content.startswith("ISA"):
        return "application/edi-x12"
    if content[:1] in "{[":
        return "application/json"
    return "text/plain; charset=utf-8"


class AttemptInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = Attempt
    extra = 0
    fields = ("started", "step", "trigger", "user", "outcome", "error", "duration_ms", "calls_view")
    readonly_fields = fields
    ordering = ("-started_at",)
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "document__tenant").defer(
            *DOCUMENT_PAYLOAD_OF_JOINED)

    started = tenant_time_column("started_at", "Started", tenant="document.tenant")

    @admin.display(description="Outcome")
    def outcome(self, obj):
        return "succeeded" if obj.succeeded else f"failed ({obj.failure_kind})" if obj.failure_kind else "failed"

    @admin.display(description="HTTP calls")
    def calls_view(self, obj):
        return calls_table(obj.calls)


class AuditEventInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = AuditEvent
    extra = 0
    fields = ("when", "actor", "action", "from_state", "to_state", "reason")
    readonly_fields = fields
    ordering = ("-at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant")

    when = tenant_time_column("at", "When")


class EffectInline(TenantScopedInline, ReadOnlyAdminMixin, admin.TabularInline):
    model = Effect
    extra = 0
    fields = ("step", "name", "state", "key", "calls", "confirmed_by", "result", "error", "updated_at")
    readonly_fields = fields
    verbose_name_plural = "Outside effects"


class DocumentPagesMixin:
    """Columns, detail fields, search and downloads of the document admin."""

    list_display = ("reference_col", "counterparty_col", "partner_col", "amount_col", "state_col", "reason_col",
                    "age_col", "received_col", "flow_col", "tenant")
    list_display_links = ("reference_col",)
    search_fields = ("search_text",)  # shows the box; get_search_results does the work
    search_help_text = ("Any part of an invoice number or reference, a client or vendor, a trading partner, "
                        "a file name or an external id.")
    list_select_related = ("tenant",)
    list_defer = ("raw", "mapped", "artifact", "external_ids", "search_text")
    search_reads_documents = True
    inlines = (AttemptInline, EffectInline, AuditEventInline)
    readonly_fields = ("reference", "counterparty", "partner", "amount_view", "state_view", "flow_view", "tenant",
                       "external_key", "step", "source", "replay_view", "failure_kind", "last_error", "retry_count",
                       "next_attempt",
                       "related_view", "links_view", "artifact_name", "artifact_view", "external_ids_view",
                       "mapped_view", "raw_view", "received", "updated")
    fieldsets = (
        (None, {"fields": ("reference", "counterparty", "partner", "amount_view", "state_view", "flow_view", "tenant",
                           "external_key", "step", "source", "replay_view")}),
        ("Why it waits", {"fields": ("failure_kind", "last_error", "retry_count", "next_attempt")}),
        ("Linked records", {"fields": ("related_view", "links_view")}),
        ("What it produced", {"fields": ("artifact_name", "artifact_view")}),
        ("External ids", {"fields": ("external_ids_view",)}),
        ("Mapped record", {"fields": ("mapped_view",), "classes": ("collapse",)}),
        ("Input as received", {"fields": ("raw_view",), "classes": ("collapse",)}),
        ("Times", {"fields": ("received", "updated")}),
    )

    @admin.display(description="Last replay")
    def replay_view(self, obj):
        return replay_outcome(obj) or EMPTY

    # -- list columns -------------------------------------------------------------------------
    @admin.display(description="Invoice / reference")
    def reference_col(self, obj):
        return obj.reference or obj.external_key

    @admin.display(description="Client or vendor")
    def counterparty_col(self, obj):
        return obj.counterparty or EMPTY

    @admin.display(description="Partner")
    def partner_col(self, obj):
        return obj.partner or EMPTY

    @admin.display(description="Amount")
    def amount_col(self, obj):
        return format_html('<span class="mlc-amount">{}</span>', money(obj.amount, obj.currency))

    @admin.display(description="State")
    def state_col(self, obj):
        return document_state_badges(obj)

    @admin.display(description="Reason")
    def reason_col(self, obj):
        if obj.state not in WAITING_STATES or not obj.last_error:
            return EMPTY
        return format_html('<span title="{}">{}</span>', obj.last_error, Truncator(obj.last_error).chars(90))

    @admin.display(description="Age")
    def age_col(self, obj):
        return age(obj.created_at)

    received_col = tenant_time_column("created_at", "Received", seconds=False, ordering="created_at")

    @admin.display(description="Flow")
    def flow_col(self, obj):
        flow = _flow(obj)
        return flow.label if flow else obj.flow

    # -- detail fields ------------------------------------------------------------------------
    @admin.display(description="Amount")
    def amount_view(self, obj):
        return money(obj.amount, obj.currency)

    @admin.display(description="State")
    def state_view(self, obj):
        return document_state_badges(obj)

    @admin.display(description="Flow")
    def flow_view(self, obj):
        return self.flow_col(obj)

    next_attempt = tenant_time_column("next_attempt_at", "Next try")

    received = tenant_time_column("created_at", "Received")

    updated = tenant_time_column("updated_at", "Last changed")

    @admin.display(description="Linked records")
    def related_view(self, obj):
        flow = _flow(obj)
        records = flow.related_records(obj) if flow and flow.related_records else []
        if not records:
            return EMPTY
        rows = format_html_join("", "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", (
            (record.what, format_html('<a href="{}">{}</a>', record.url, record.label) if record.url else record.label)
            for record in records))
        return format_html('<table class="mlc-data">{}</table>', rows)

    @admin.display(description="What to do")
    def links_view(self, obj):
        flow = _flow(obj)
        links = flow.document_links(obj) if flow and flow.document_links else []
        links += [(action.label, reverse("admin:connector_document_flow_action", args=[obj.pk, action.name]))
                  for action in (flow.actions if flow else ()) if action.offered(obj)]
        if not links:
            return EMPTY
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', ((url, label) for label, url in links))

    @admin.display(description="Produced")
    def artifact_view(self, obj):
        if not obj.artifact:
            return EMPTY
        flow = _flow(obj)
        text = flow.show_artifact(obj) if flow and flow.show_artifact else obj.artifact
        return format_html("{}{}", self._download_button(obj, "artifact"), pre(text))

    @admin.display(description="External ids")
    def external_ids_view(self, obj):
        return data_table(obj.external_ids)

    @admin.display(description="Mapped")
    def mapped_view(self, obj):
        return data_table(obj.mapped)

    @admin.display(description="Raw input as received")
    def raw_view(self, obj):
        if not obj.raw:
            return EMPTY
        return format_html("{}{}", self._download_button(obj, "raw"), pre(obj.raw))

    def _download_button(self, obj, part: str) -> str:
        url = reverse("admin:connector_document_download", args=[obj.pk, part])
        return format_html('<p><a class="button" href="{}" download>Download {}</a></p>', url, DOWNLOADABLE[part])

    # -- search and download ------------------------------------------------------------------
    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        if search_too_broad(request):  # answered again after it ran out: no rows, the message said why
            return queryset.none(), False
        if too_short(search_term):
            messages.warning(request, f"Type at least {MIN_PARTIAL} characters to search by.")
        return documents_matching(queryset, search_term), False

    def get_urls(self):
        download = path("<path:object_id>/download/<str:part>/", self.admin_site.admin_view(self.download_view),
                        name="connector_document_download")
        return [download, *super().get_urls()]

    def download_view(self, request, object_id, part):
        """The exact bytes: what was uploaded (the 810 as sent) or what was received."""
        if part not in DOWNLOADABLE:
            raise Http404(f"Nothing called {part!r} to download.")
        document = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if document is None or not self.has_view_permission(request, document):
            raise Http404(f"No document with id {object_id!r}.")
        content = getattr(document, part)
        response = HttpResponse(content.encode("utf-8"), content_type=download_type(content))
        response["Content-Disposition"] = f'attachment; filename="{download_name(document, part, content)}"'
        return response
