"""/health/ for load balancers, and /admin/ itself (admin:index) as the overview; included
before the admin's own URLs so the exact path /admin/ lands here."""
from django.contrib import admin
from django.urls import path

from .views import HealthView, overview_view

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("admin/", admin.site.admin_view(overview_view), name="console_overview"),
]
