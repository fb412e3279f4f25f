"""Tenant scoping for the admin: a user sees only the tenants they belong to, and what a
role may do there. Superusers see everything.

Roles replace Django's per-model permissions for tenant data: a finance admin manages
their tenants (connections, partners, mappings, schedules); support reads documents and
the audit trail and may replay, but never opens credentials.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.db.models import BigIntegerField, Q, Value
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest
from django.urls import URLPattern, re_path
from django_object_actions import DjangoObjectActions
from django_object_actions.utils import ChangeActionView, ChangeListActionView

from .models import Role, Tenant, TenantMembership

ALL_ROLES = (Role.FINANCE_ADMIN, Role.SUPPORT)


def tenant_ids_for(user, roles: Iterable[str] = ALL_ROLES) -> list[int] | None:
    """The tenant ids the user holds one of `roles` in; None means every tenant."""
    if not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    cache = getattr(user, "_tenant_roles_cache", None)
    if cache is None:
        cache = list(TenantMembership.objects.filter(user=user, tenant__active=True).values_list("tenant_id", "role"))
        user._tenant_roles_cache = cache
    roles = set(roles)
    return sorted({tenant_id for tenant_id, role in cache if role in roles})


def in_tenants(path: str, ids: list[int]) -> Q:
    """The rows whose tenant (`path`, e.g. "document__tenant_id") is one of `ids`. One id is
    compared as a bigint, as the column is: PostgreSQL reads `tenant_id IN (7)` as an integer
    `= 7`, which a GIN index's bigint keys (btree_gin, connector.search) cannot compare; a
    list of two or more is a bigint[] already."""
    if len(ids) == 1:
        return Q(**{path: Cast(Value(ids[0]), BigIntegerField())})
    return Q(**{f"{path}__in": ids})


def has_role(user, tenant_id: int | None, roles: Iterable[str]) -> bool:
    ids = tenant_ids_for(user, roles)
    if ids is None:
        return True
    return bool(ids) if tenant_id is None else tenant_id in ids


class TenantScopedAdmin(admin.ModelAdmin):
    """Base for every admin of tenant data. `tenant_path` leads from the model to its tenant id."""

    tenant_path = "tenant_id"
    view_roles: tuple[str, ...] = ALL_ROLES
    edit_roles: tuple[str, ...] = (Role.FINANCE_ADMIN,)
    deletable = False

    def tenant_id_of(self, obj) -> int | None:
        value = obj
        for part in self.tenant_path.split("__"):
            value = getattr(value, part)
        return value

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        ids = tenant_ids_for(request.user, self.view_roles)
        return qs if ids is None else qs.filter(in_tenants(self.tenant_path, ids))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, None, self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return has_role(request.user, None if obj is None else self.tenant_id_of(obj), self.view_roles)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return has_role(request.user, None if obj is None else self.tenant_id_of(obj), self.edit_roles)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return has_role(request.user, None, self.edit_roles)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.deletable and self.has_change_permission(request, obj)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index for a missing object; another tenant's object must
        # look exactly like one that does not exist: a 404.
        raise Http404(f"No {opts.verbose_name} with id {object_id!r}.")

    def scoped_object(self, request: HttpRequest, object_id: str):
        """The object with `object_id` if the user's tenants hold it, else None (also for an id
        that is not one, such as text where the key is a number)."""
        return self.get_object(request, object_id)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Tenant:
            ids = tenant_ids_for(request.user, self.edit_roles)
            if ids is not None:
                kwargs["queryset"] = Tenant.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TenantListFilter(admin.RelatedFieldListFilter):
    """The tenant filter of a list offers only the user's own tenants."""

    def field_choices(self, field, request, model_admin):
        ids = tenant_ids_for(request.user)
        choices = super().field_choices(field, request, model_admin)
        return choices if ids is None else [(pk, label) for pk, label in choices if pk in ids]


class TenantScopedInline:
    """Inlines on a tenant-scoped page: visible to anyone who may view the parent object."""

    view_roles: tuple[str, ...] = ALL_ROLES

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        tenant_id = getattr(obj, "tenant_id", None) if obj is not None else None
        return has_role(request.user, tenant_id, self.view_roles)


class _ScopedActionView:
    """What an object-action URL acts on, loaded through the admin's tenant-scoped queryset
    before any action code runs: another tenant's object is a 404, exactly like one that does
    not exist (and an id that is not one)."""

    model_admin: TenantScopedAdmin | None = None

    def get_queryset(self):
        return self.model_admin.get_queryset(self.request)

    def get_object(self, queryset=None):
        found = self.model_admin.scoped_object(self.request, self.kwargs["pk"])
        if found is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {self.kwargs['pk']!r}.")
        return found


class _ScopedChangeActionView(_ScopedActionView, ChangeActionView):
    pass


class _ScopedChangeListActionView(_ScopedActionView, ChangeListActionView):
    pass


_SCOPED_VIEWS = {ChangeActionView: _ScopedChangeActionView, ChangeListActionView: _ScopedChangeListActionView}


class TenantScopedObjectActions(DjangoObjectActions):
    """django-object-actions for a `TenantScopedAdmin`: put it first, as its docs say.

    The library looks an action's object up in the model's whole table and hands it to the
    action; every action would then have to check the tenant itself, and a miss answered with
    a redirect that told another tenant's id from an unknown one. Here its URLs are the same,
    with views that go through `get_queryset(request)` (change actions) and the scoped
    queryset (changelist actions), once for every action.
    """

    def _get_action_urls(self) -> list[URLPattern]:
        urls = []
        for url in super()._get_action_urls():
            view = url.callback
            scoped = _SCOPED_VIEWS[view.view_class].as_view(model_admin=self, **view.view_initkwargs)
            urls.append(re_path(url.pattern.regex.pattern, self.admin_site.admin_view(scoped), name=url.name))
        return urls
