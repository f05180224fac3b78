from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="certificates:ca_list"), name="home"),
    path("accounts/", include("accounts.urls")),
    path("certificates/", include("certificates.urls")),
    path("products/", include("products.urls")),
    path("admin/", admin.site.urls),
]
