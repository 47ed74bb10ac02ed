"""Top-level URL map."""

from django.urls import include, path

from accounts.urls import auth_urlpatterns
from config import health

urlpatterns = [
    path("", include("studio.urls")),
    path("gallery/", include("gallery.urls")),
    path("account/", include("accounts.urls")),
    path("account/", include(auth_urlpatterns)),
    path("api/v1/", include("studio.api_urls")),
    path("", include("compat.urls")),
    path("healthz", health.healthz, name="healthz"),
]
