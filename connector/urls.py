"""URL map: the admin, whose home is the console's overview, and /health/ for load
balancers; flows add their own entry points (the Stripe webhook) here."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "ml-connector"
admin.site.site_title = "ml-connector"
admin.site.index_title = "Back office"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # /health/, and the admin's home (the overview): before the admin's own URLs.
    path("", include("console.urls")),
    path("admin/", admin.site.urls),
    path("", include("billing.urls")),
]
