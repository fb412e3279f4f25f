"""Triage in the admin: failure groups with their documents, "replay all" (a background job
whose page shows progress), "ignore all" with a required reason, and un-ignore.

Every page loads its group through the tenant-scoped queryset first, so another tenant's
group is a 404 like one that does not exist. Support and finance admins of the tenant may
act; the work itself is in services (console.replays, console.ignoring).
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from connector.flows import flow_of
from connector.listing import ReadOnlyAdminMixin as ReadOnly
from tenants.scoping import ALL_ROLES, TenantListFilter, TenantScopedAdmin, has_role

from .ignoring import IgnoreRefused, failure_group_ignore, failure_group_unignore
from .models import FailureGroup, GroupKind, GroupMember, GroupReplay, ReplayStatus
from .replays import NothingToReplay, group_replay_outcomes, group_replay_start
from .zones import local_time

MEMBERS_SHOWN = 100


class IgnoreForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), strip=True,
                             help_text="Why these documents need nothing more. Recorded in each document's audit trail.")


@admin.register(FailureGroup)
class FailureGroupAdmin(ReadOnly, TenantScopedAdmin):
    list_display = ("problem", "tenant", "flow", "step", "kind", "open_count", "ignored_count", "first_seen",
                    "last_seen", "status")
    list_display_links = ("problem",)
    list_filter = ("status", "kind", "flow", ("tenant", TenantListFilter))
    search_fields = ("pattern", "missing_value", "missing_label")
    list_select_related = ("tenant",)
    ordering = ("status", "-last_seen_at")
    change_form_template = "admin/console/failuregroup/change_form.html"
    fields = ("tenant", "flow", "step", "kind", "pattern", "missing_kind", "missing_value", "missing_label", "failure_kind",
              "sample_error", "status", "open_count", "ignored_count", "total_count", "first_seen", "last_seen", "resolved")
    readonly_fields = fields
    act_roles = ALL_ROLES

    @admin.display(description="Problem", ordering="pattern")
    def problem(self, obj: FailureGroup) -> str:
        return obj.problem()[:140]

    @admin.display(description="First seen", ordering="first_seen_at")
    def first_seen(self, obj: FailureGroup) -> str:
        return local_time(obj.first_seen_at, obj.tenant.time_zone)

    @admin.display(description="Last seen", ordering="last_seen_at")
    def last_seen(self, obj: FailureGroup) -> str:
        return local_time(obj.last_seen_at, obj.tenant.time_zone)

    @admin.display(description="Resolved")
    def resolved(self, obj: FailureGroup) -> str:
        return local_time(obj.resolved_at, obj.tenant.time_zone) if obj.resolved_at else "-"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/replay/", view(self.replay_view), name="console_failuregroup_replay"),
            path("<int:pk>/ignore/", view(self.ignore_view), name="console_failuregroup_ignore"),
            path("<int:pk>/unignore/", view(self.unignore_view), name="console_failuregroup_unignore"),
            path("waiting-on/", view(self.waiting_on_view), name="console_failuregroup_waiting_on"),
            *super().get_urls(),
        ]

    # -- pages -------------------------------------------------------------------------------
    def _group(self, request: HttpRequest, pk: int, *, act: bool = False) -> FailureGroup:
        group = self.get_queryset(request).filter(pk=pk).first()
        if group is None:
            raise Http404(f"No failure group with id {pk!r}.")
        if act and not has_role(request.user, group.tenant_id, self.act_roles):
            raise Http404(f"No failure group with id {pk!r}.")
        return group

    def _context(self, request: HttpRequest, group: FailureGroup, title: str, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "original": group, "group": group,
                "title": title, "back_url": reverse("admin:console_failuregroup_change", args=[group.pk]), **extra}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        group = self._group(request, int(object_id)) if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if group is not None:
            members = list(GroupMember.objects.filter(group=group).select_related("document")
                           .only("id", "error", "ignored", "joined_at", "document__id", "document__external_key",
                                 "document__state", "document__flow", "document__tenant_id", "document__step")
                           .order_by("ignored", "joined_at")[:MEMBERS_SHOWN])
            extra.update(group=group, members=members, members_more=max(group.open_count + group.ignored_count - len(members), 0),
                         may_act=has_role(request.user, group.tenant_id, self.act_roles),
                         what_to_do=self._what_to_do(members), zone_name=group.tenant.time_zone,
                         replays=list(group.replays.order_by("-requested_at")[:5]))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @staticmethod
    def _what_to_do(members: list[GroupMember]) -> list[tuple[str, str]]:
        """The flow's own links for the first waiting document (e.g. the mapping form)."""
        for member in members:
            if member.ignored:
                continue
            document = member.document
            try:
                flow = flow_of(document)
            except KeyError:
                return []
            if flow.document_links is None:
                return []
            full = type(document).objects.select_related("tenant").get(pk=document.pk)
            return [(label, url) for label, url in flow.document_links(full) if "mapping" in label.lower()
                    or "partner" in label.lower()]
        return []

    def replay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        group = self._group(request, pk, act=True)
        if request.method == "POST":
            try:
                replay = group_replay_start(group=group, user=request.user)
            except NothingToReplay as exc:
                self.message_user(request, str(exc), messages.WARNING)
                return redirect("admin:console_failuregroup_change", group.pk)
            self.message_user(request, f"Queued {replay.total} document{'s' if replay.total != 1 else ''}; "
                                       "this page shows them finish.", messages.SUCCESS)
            return redirect("admin:console_groupreplay_change", replay.pk)
        count = group.open_count
        return TemplateResponse(request, "admin/console/failuregroup/replay_confirmation.html",
                                self._context(request, group, "Replay every document of this group", count=count))

    def ignore_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        group = self._group(request, pk, act=True)
        form = IgnoreForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done, refused = failure_group_ignore(group=group, user=request.user, reason=form.cleaned_data["reason"])
            except IgnoreRefused as exc:
                form.add_error("reason", str(exc))
            else:
                self.message_user(request, f"Ignored {done} document{'s' if done != 1 else ''}.", messages.SUCCESS)
                for reason in refused[:10]:
                    self.message_user(request, f"Not ignored: {reason}", messages.WARNING)
                return redirect("admin:console_failuregroup_change", group.pk)
        return TemplateResponse(request, "admin/console/failuregroup/ignore_form.html",
                                self._context(request, group, "Ignore every document of this group", form=form))

    def unignore_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        group = self._group(request, pk, act=True)
        if request.method == "POST":
            done, refused = failure_group_unignore(group=group, user=request.user,
                                                   reason=request.POST.get("reason", ""))
            self.message_user(request, f"Brought back {done} document{'s' if done != 1 else ''}; "
                                       "they wait for a replay again.", messages.SUCCESS)
            for reason in refused[:10]:
                self.message_user(request, f"Not brought back: {reason}", messages.WARNING)
            return redirect("admin:console_failuregroup_change", group.pk)
        return TemplateResponse(request, "admin/console/failuregroup/unignore_confirmation.html",
                                self._context(request, group, "Bring back the ignored documents of this group"))

    def waiting_on_view(self, request: HttpRequest) -> HttpResponse:
        """From a saved mapping to the group of documents waiting on it (edi links here)."""
        tenant_id, kind, value = request.GET.get("tenant", ""), request.GET.get("kind", ""), request.GET.get("value", "")
        group = (self.get_queryset(request).filter(tenant_id=tenant_id if tenant_id.isdigit() else 0,
                                                   kind=GroupKind.MAPPING, missing_kind=kind, missing_value__iexact=value)
                 .order_by("status", "-last_seen_at").first())
        if group is None:
            self.message_user(request, f"No document is waiting on {kind} {value}.", messages.INFO)
            return redirect("admin:console_failuregroup_changelist")
        return HttpResponseRedirect(reverse("admin:console_failuregroup_change", args=[group.pk]))


@admin.register(GroupReplay)
class GroupReplayAdmin(ReadOnly, TenantScopedAdmin):
    list_display = ("description", "tenant", "user", "requested", "progress", "status")
    list_filter = ("status", ("tenant", TenantListFilter))
    list_select_related = ("tenant", "user")
    change_form_template = "admin/console/groupreplay/change_form.html"
    fields = ("description", "tenant", "group_link", "user", "requested", "status", "progress", "finished_when")
    readonly_fields = fields

    @admin.display(description="Requested", ordering="requested_at")
    def requested(self, obj: GroupReplay) -> str:
        return local_time(obj.requested_at, obj.tenant.time_zone, seconds=True)

    @admin.display(description="Finished")
    def finished_when(self, obj: GroupReplay) -> str:
        return local_time(obj.finished_at, obj.tenant.time_zone, seconds=True) if obj.finished_at else "-"

    @admin.display(description="Progress")
    def progress(self, obj: GroupReplay):
        return format_html('<progress value="{}" max="{}"></progress> {} of {}', obj.finished, obj.total or 1,
                           obj.finished, obj.total)

    @admin.display(description="Group")
    def group_link(self, obj: GroupReplay):
        if obj.group_id is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:console_failuregroup_change", args=[obj.group_id]),
                           obj.group)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        replay = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if replay is not None:
            extra.update(outcomes=group_replay_outcomes(replay), running=replay.status == ReplayStatus.RUNNING,
                         items=list(replay.items.select_related("document").only(
                             "id", "finished_at", "outcome", "error", "document__id", "document__external_key",
                             "document__flow").order_by("finished_at", "id")[:MEMBERS_SHOWN]),
                         zone_name=replay.tenant.time_zone)
        return super().change_view(request, object_id, form_url, extra_context=extra)
