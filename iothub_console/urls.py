from django.contrib import admin
from django.urls import include, path

from api.views import root
from broker import endpoints

urlpatterns = [
    # POST / with X-TC-Action is the Tencent Cloud API; every other request is the console.
    path("", root, name="home"),
    path("api-keys/", include("api.urls")),
    path("accounts/", include("accounts.urls")),
    path("certificates/", include("certificates.urls")),
    path("", include("lifecycle.urls")),
    path("crl/", include("lifecycle.crl_urls")),
    path("products/", include("products.urls")),
    path("audit/", include("audit.urls")),
    path("certificate-health/", include("certificates.health_urls")),
    path(endpoints.PATH_PREFIX, include("broker.urls")),
    path("", include("batches.urls")),
    path("admin/", admin.site.urls),
]
