"""Admin for tenants: connections inline (finance admins only), memberships."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.text import capfirst
from django_object_actions import action

from connector.schedules import schedules_ensure_for_tenant

from .connection_checks import connection_check_run
from .forms import ConnectionForm
from .models import CONNECTION_MODELS, CleoConnection, Role, StripeConnection, Tenant, TenantMembership, VantagepointConnection
from .scoping import TenantListFilter, TenantScopedAdmin, TenantScopedObjectActions, has_role


class ConnectionInline(admin.StackedInline):
    form = ConnectionForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    extra = 0
    max_num = 1
    can_delete = False
    readonly_fields = ("last_tested_at", "last_test_result")

    def get_extra(self, request, obj=None, **kwargs):
        return 1

    def _finance_admin(self, request: HttpRequest, obj) -> bool:
        return has_role(request.user, obj.pk if obj else None, (Role.FINANCE_ADMIN,))

    def has_view_permission(self, request, obj=None):
        return self._finance_admin(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._finance_admin(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._finance_admin(request, obj)


class VantagepointInline(ConnectionInline):
    model = VantagepointConnection
    verbose_name = "Vantagepoint connection"


class CleoInline(ConnectionInline):
    model = CleoConnection
    verbose_name = "Cleo connection"


class StripeInline(ConnectionInline):
    model = StripeConnection
    verbose_name = "Stripe connection"


class MembershipInline(admin.TabularInline):
    model = TenantMembership
    extra = 0
    autocomplete_fields = ("user",)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(Tenant)
class TenantAdmin(TenantScopedObjectActions, TenantScopedAdmin):
    tenant_path = "id"
    list_display = ("name", "slug", "active", "time_zone")
    list_filter = ("active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (VantagepointInline, CleoInline, StripeInline, MembershipInline)
    change_actions = ("test_connections",)

    @action(label="Test connections", description="Log in to each configured system and read something")
    def test_connections(self, request, obj):
        if not has_role(request.user, obj.pk, (Role.FINANCE_ADMIN,)):
            self.message_user(request, "Only a finance admin of this tenant may test its connections.", messages.ERROR)
            return
        tested = 0
        for model in CONNECTION_MODELS:
            connection = model.objects.filter(tenant=obj).first()
            if connection is None:
                continue
            tested += 1
            outcome = connection_check_run(connection)
            level = messages.WARNING if outcome.ok and outcome.warnings else (
                messages.SUCCESS if outcome.ok else messages.ERROR)
            self.message_user(request, f"{capfirst(model._meta.verbose_name)}: {outcome.summary()}", level)
        if not tested:
            self.message_user(request, "No connection is configured yet.", messages.WARNING)

    def get_change_actions(self, request, object_id, form_url):
        actions = super().get_change_actions(request, object_id, form_url)
        tenant = self.scoped_object(request, object_id)
        return actions if tenant is not None and has_role(request.user, tenant.pk, (Role.FINANCE_ADMIN,)) else []

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        tasks = schedules_ensure_for_tenant(form.instance)
        enabled = [t.name for t in tasks if t.enabled]
        if enabled:
            messages.info(request, f"Scheduled: {', '.join(enabled)}.")


@admin.register(TenantMembership)
class TenantMembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role")
    list_filter = ("role", ("tenant", TenantListFilter))
    view_roles = (Role.FINANCE_ADMIN,)
    edit_roles = ()
    deletable = True
