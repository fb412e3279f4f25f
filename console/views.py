"""Thin views: the admin's home (the overview) and /health/."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from health_check.views import HealthCheckView

from .health import health_checks
from .overview import overview_build, overview_scope, source_changed_counts


def overview_view(request: HttpRequest) -> HttpResponse:
    """The admin's home: the overview of the user's tenants, then the usual list of tables."""
    scope = overview_scope(user=request.user, tenant_slug=request.GET.get("tenant"))
    site_context = admin.site.each_context(request)
    context = {
        **site_context,
        "title": "Overview",
        "subtitle": None,
        "overview": overview_build(scope=scope, now=timezone.now()),
        "source_changed": source_changed_counts(scope=scope),
        "scope": scope,
        "app_list": site_context["available_apps"],  # built once (each_context has it), as the admin's index does
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "console/overview.html", context)


class HealthView(HealthCheckView):
    """django-health-check's view with the checks this deployment has (Redis when configured),
    worked out per request so settings read at run time."""

    def get_checks(self):
        self.checks = health_checks()
        return super().get_checks()
