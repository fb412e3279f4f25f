"""Schedules a finance admin can use, and the runs they start.

- **Schedules** (FlowSchedule, one per tenant and flow): the cadence in plain words (every N
  minutes, or daily at a time in the tenant's zone), on or paused, and "Run now", which
  queues a cycle and follows it live on the page (a small poll of a JSON view). Finance
  admins of the tenant change them; support sees them.
- **Sync runs**: duration, counts as columns, outcome, and a progress bar while running.
- django-celery-beat's own pages (periodic tasks, intervals, crontabs…) stay, for
  superusers only: everyone else works through the schedules above.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from django_object_actions import DjangoObjectActions, action

from tenants.models import Role
from tenants.scoping import TenantListFilter, TenantScopedAdmin, has_role

from .display import EMPTY, data_table, duration, pre, tenant_time, tenant_time_column
from .flows import get_flow
from .listing import FlowFilter, LargeTableAdmin, ReadOnlyAdminMixin
from .models import FlowSchedule, SyncRun, SyncRunStatus
from .run_now import run_status, schedule_run_now
from .schedules import schedule_cadence, schedule_cadence_set, schedule_cadence_words, schedule_enable

EVERY, DAILY = "every", "daily"


def run_count(run: SyncRun, *keys: str):
    """The sum of a run's counts under `keys` (flows name the same outcome differently:
    sent and posted, new files and new invoices), or a dash when it counted none of them."""
    values = [run.counts.get(key) for key in keys if isinstance(run.counts.get(key), int)]
    return sum(values) if values else EMPTY


def _flow_label(name: str) -> str:
    try:
        return get_flow(name).label
    except KeyError:
        return name


def progress_bar(run: SyncRun):
    """A running run's progress: a bar when its size is known, an indeterminate one otherwise."""
    text = run.progress or "running"
    if run.progress_total:
        return format_html('<progress class="mlc-progress" max="{}" value="{}"></progress> {} of {} · {}',
                           run.progress_total, run.progress_done or 0, run.progress_done or 0, run.progress_total, text)
    return format_html('<progress class="mlc-progress"></progress> {}', text)


class ScheduleForm(forms.ModelForm):
    """Fields that are not the model's (`on`, not `enabled`): the services change the
    schedule and audit the change, so the form must not set the instance before they compare."""

    on = forms.BooleanField(required=False, label="On",
                                 help_text="Off pauses this flow for this tenant, whatever its connections")
    cadence = forms.ChoiceField(choices=((EVERY, "Every N minutes"), (DAILY, "Once a day, at a time")),
                                widget=forms.RadioSelect)
    every_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, required=False, label="Every (minutes)")
    daily_at = forms.TimeField(required=False, label="At", widget=forms.TimeInput(format="%H:%M"),
                               help_text="HH:MM on the tenant's clock (its time zone), e.g. 07:30")

    class Meta:
        model = FlowSchedule
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            cadence = schedule_cadence(self.instance)
            self.initial.setdefault("on", self.instance.enabled)
            self.fields["daily_at"].help_text = f"HH:MM on the tenant's clock ({self.instance.tenant.time_zone}), e.g. 07:30"
            self.initial.setdefault("cadence", DAILY if cadence.daily_at is not None else EVERY)
            self.initial.setdefault("every_minutes", cadence.every_minutes)
            self.initial.setdefault("daily_at", cadence.daily_at)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("cadence") == EVERY and not cleaned.get("every_minutes"):
            self.add_error("every_minutes", "Say how many minutes apart the runs are (1 to 1440).")
        if cleaned.get("cadence") == DAILY and cleaned.get("daily_at") is None:
            self.add_error("daily_at", "Say at what time of day it runs, e.g. 07:30.")
        return cleaned


@admin.register(FlowSchedule)
class FlowScheduleAdmin(DjangoObjectActions, TenantScopedAdmin):
    form = ScheduleForm
    list_display = ("flow_col", "tenant", "cadence_col", "status_col", "last_run_col", "quiet_col", "skip_count")
    list_display_links = ("flow_col",)
    list_filter = (("tenant", TenantListFilter), FlowFilter, "enabled")
    list_select_related = ("tenant", "periodic_task__interval", "periodic_task__crontab")
    readonly_fields = ("tenant", "flow_col", "status_col", "cadence_col", "enabled", "skip_count", "last_skipped",
                       "quiet_count", "last_quiet")
    fieldsets = (
        (None, {"fields": ("tenant", "flow_col", "status_col")}),
        ("When it runs", {"fields": ("on", "cadence", "every_minutes", "daily_at")}),
        ("Skipped ticks", {"fields": ("skip_count", "last_skipped"),
                           "description": "A tick that found the previous run still working is skipped, not queued."}),
        ("Quiet cycles", {"fields": ("quiet_count", "last_quiet"),
                          "description": "A cycle that ran and found nothing new keeps no sync run: it is counted here."}),
    )
    # What someone who may only look sees of "When it runs".
    view_only_fieldsets = (
        (None, {"fields": ("tenant", "flow_col", "status_col")}),
        ("When it runs", {"fields": ("enabled", "cadence_col")}),
        *fieldsets[2:],
    )
    change_form_template = "admin/connector/flowschedule/change_form.html"
    change_actions = ("run_now",)

    class Media:
        css = {"all": ("connector/admin.css",)}

    def has_add_permission(self, request, obj=None):
        return False  # every tenant's schedules exist already (connector.schedules)

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets if self.has_change_permission(request, obj) else self.view_only_fieldsets

    @admin.display(description="Flow")
    def flow_col(self, obj):
        return _flow_label(obj.flow)

    @admin.display(description="Cadence")
    def cadence_col(self, obj):
        return schedule_cadence_words(obj)

    @admin.display(description="Status")
    def status_col(self, obj):
        if obj.periodic_task.enabled:
            return "running on schedule"
        return "paused" if not obj.enabled else "paused (the tenant or a connection it needs is off)"

    def get_queryset(self, request):
        """Each schedule with its latest run, read in the same query (the (tenant, flow,
        started_at) index of SyncRun answers each), so the list costs no query per row."""
        latest = SyncRun.objects.filter(tenant_id=OuterRef("tenant_id"), flow=OuterRef("flow")).order_by("-started_at",
                                                                                                       "-id")
        return super().get_queryset(request).annotate(
            last_run_id=Subquery(latest.values("pk")[:1]), last_run_at=Subquery(latest.values("started_at")[:1]),
            last_run_status=Subquery(latest.values("status")[:1]))

    @admin.display(description="Last run")
    def last_run_col(self, obj):
        if not getattr(obj, "last_run_id", None):
            return EMPTY
        return format_html('<a href="{}">{}</a> · {}', reverse("admin:connector_syncrun_change", args=[obj.last_run_id]),
                           tenant_time(obj.last_run_at, obj.tenant), SyncRunStatus(obj.last_run_status).label.lower())

    last_skipped = tenant_time_column("last_skipped_at", "Last skipped")

    last_quiet = tenant_time_column("last_quiet_at", "Last quiet cycle")

    @admin.display(description="Quiet cycles", ordering="quiet_count")
    def quiet_col(self, obj):
        if not obj.quiet_count:
            return EMPTY
        return f"{obj.quiet_count}, the last {tenant_time(obj.last_quiet_at, obj.tenant)}"

    def save_model(self, request, obj, form, change):
        """Through the services, never a bare save: they align the beat task and audit."""
        data = form.cleaned_data
        if data["cadence"] == EVERY:
            schedule_cadence_set(schedule=obj, every_minutes=data["every_minutes"], user=request.user)
        else:
            schedule_cadence_set(schedule=obj, daily_at=data["daily_at"], user=request.user)
        schedule_enable(schedule=obj, enabled=data["on"], user=request.user)

    def construct_change_message(self, request, form, formsets, add=False):
        return f"Cadence {schedule_cadence_words(form.instance)}; {'on' if form.instance.enabled else 'paused'}."

    # -- run now, and its progress --------------------------------------------------------------
    def has_run_now_permission(self, request, obj=None):
        return has_role(request.user, None if obj is None else obj.tenant_id, (Role.FINANCE_ADMIN,))

    @action(label="Run now", description="Queue one cycle of this flow now", methods=("POST",), button_type="form")
    def run_now(self, request, obj):
        if not self.has_run_now_permission(request, obj):
            raise Http404("No schedule you may run.")
        task_id = schedule_run_now(schedule=obj, user=request.user)
        self.message_user(request, f"{_flow_label(obj.flow)} queued for {obj.tenant}; its progress shows below.",
                          messages.SUCCESS)
        return redirect(f"{reverse('admin:connector_flowschedule_change', args=[obj.pk])}?run={task_id}")

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        schedule = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        return actions if schedule is not None and self.has_run_now_permission(request, schedule) else []

    def get_urls(self):
        progress = path("<path:object_id>/progress/", self.admin_site.admin_view(self.progress_view),
                        name="connector_flowschedule_progress")
        return [progress, *super().get_urls()]

    def progress_view(self, request, object_id):
        schedule = self.get_queryset(request).select_related("tenant").filter(pk=object_id).first() \
            if object_id.isdigit() else None
        if schedule is None or not self.has_view_permission(request, schedule):
            raise Http404(f"No schedule with id {object_id!r}.")
        return JsonResponse(run_status(schedule=schedule, task_id=request.GET.get("task", "")[:64]).as_dict())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "run_task": request.GET.get("run", "")[:64],
                         "progress_url": reverse("admin:connector_flowschedule_progress", args=[object_id])}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, LargeTableAdmin, TenantScopedAdmin):
    list_display = ("started_col", "tenant", "flow_col", "trigger", "outcome_col", "duration_col", "seen_count",
                    "new_count", "sent_count", "duplicate_count", "needs_mapping_count", "failed_count")
    list_filter = (("tenant", TenantListFilter), FlowFilter, "status", "trigger")
    list_select_related = ("tenant",)
    readonly_fields = ("tenant", "flow_col", "trigger", "user", "outcome_col", "started_full", "finished_full",
                       "duration_col", "counts_view", "cursor_before", "cursor_after", "error_view", "task_id")
    fields = readonly_fields

    started_col = tenant_time_column("started_at", "Started", seconds=False, ordering="started_at")

    started_full = tenant_time_column("started_at", "Started")

    finished_full = tenant_time_column("finished_at", "Finished")

    @admin.display(description="Flow")
    def flow_col(self, obj):
        return _flow_label(obj.flow)

    @admin.display(description="Outcome")
    def outcome_col(self, obj):
        badge = format_html('<span class="mlc-state mlc-state-{}">{}</span>', obj.status, obj.get_status_display())
        if obj.status == SyncRunStatus.RUNNING:
            return format_html("{} {}", badge, progress_bar(obj))
        if obj.error:
            return format_html('{} <span title="{}">{}</span>', badge, obj.error, obj.error.splitlines()[0][:80])
        return badge

    @admin.display(description="Duration")
    def duration_col(self, obj):
        end = obj.finished_at or (timezone.now() if obj.status == SyncRunStatus.RUNNING else None)
        return duration(end - obj.started_at) if end else EMPTY

    @admin.display(description="Counts")
    def counts_view(self, obj):
        return data_table(obj.counts)

    @admin.display(description="Error")
    def error_view(self, obj):
        return pre(obj.error)

    @admin.display(description="seen")
    def seen_count(self, obj):
        return run_count(obj, "seen")

    @admin.display(description="new")
    def new_count(self, obj):
        return run_count(obj, "new", "invoices_new")

    @admin.display(description="sent / posted")
    def sent_count(self, obj):
        return run_count(obj, "sent", "posted", "acknowledged")

    @admin.display(description="duplicate")
    def duplicate_count(self, obj):
        return run_count(obj, "duplicate")

    @admin.display(description="needs mapping")
    def needs_mapping_count(self, obj):
        return run_count(obj, "needs_mapping")

    @admin.display(description="failed")
    def failed_count(self, obj):
        return run_count(obj, "failed", "rejected", "problems")


class SuperuserOnly:
    """django-celery-beat's pages, for superusers: everyone else uses the schedules above."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission


for _model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(_model):
        _registered = type(admin.site._registry[_model])
        admin.site.unregister(_model)
        admin.site.register(_model, type(f"SuperuserOnly{_registered.__name__}", (SuperuserOnly, _registered), {}))
